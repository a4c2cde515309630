"""Entry points: the gRPC servicer and its protobuf <-> domain mapper."""
