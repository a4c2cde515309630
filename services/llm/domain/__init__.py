"""Plain typed values and rules of the model proxy (no protobuf, no I/O)."""
