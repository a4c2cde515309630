"""Plain typed values and rules of the tools service (no protobuf, no I/O)."""
