"""The gateway's doors: the HTTP/JSON server and the public gRPC proxy."""
