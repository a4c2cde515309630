"""agentctl: the command-line client of Labs Agent Runtime (gRPC to the gateway)."""
