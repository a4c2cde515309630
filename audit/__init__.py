"""The auditors' tool: replay the log and diff every read model, tell an execution's story, export events."""
