"""HTTP/JSON <-> protobuf transcoding: routes from annotations, binding, rendering, status mapping."""
