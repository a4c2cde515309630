"""Plain values and rules of the metrics service: no protobuf, no I/O."""
