"""Entry points: the gRPC servicer and its protobuf mapper."""
