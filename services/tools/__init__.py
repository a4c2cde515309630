"""The tools service: the tool registry, the tools, and the read models they work on."""
