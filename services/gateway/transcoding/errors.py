"""gRPC status <-> HTTP: the code mapping, google.rpc.Status bodies and the gateway's own errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2, json_format
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2

from labs_core import grpcutil

STATUS_DETAILS_KEY = "grpc-status-details-bin"
ERROR_DOMAIN = "gateway.labs"

# The usual gRPC code -> HTTP status mapping (as grpc-gateway and Google APIs use it).
HTTP_STATUS_BY_CODE: dict[int, int] = {
    code_pb2.OK: 200,
    code_pb2.CANCELLED: 499,
    code_pb2.UNKNOWN: 500,
    code_pb2.INVALID_ARGUMENT: 400,
    code_pb2.DEADLINE_EXCEEDED: 504,
    code_pb2.NOT_FOUND: 404,
    code_pb2.ALREADY_EXISTS: 409,
    code_pb2.PERMISSION_DENIED: 403,
    code_pb2.RESOURCE_EXHAUSTED: 429,
    code_pb2.FAILED_PRECONDITION: 400,
    code_pb2.ABORTED: 409,
    code_pb2.OUT_OF_RANGE: 400,
    code_pb2.UNIMPLEMENTED: 501,
    code_pb2.INTERNAL: 500,
    code_pb2.UNAVAILABLE: 503,
    code_pb2.DATA_LOSS: 500,
    code_pb2.UNAUTHENTICATED: 401,
}


def http_status(code: int) -> int:
    """The HTTP status of a gRPC status code (500 for a code this table does not know)."""
    return HTTP_STATUS_BY_CODE.get(code, 500)


def pack(details: Iterable[Message]) -> list[any_pb2.Any]:
    """Typed details packed as Any."""
    out = []
    for d in details:
        a = any_pb2.Any()
        a.Pack(d)
        out.append(a)
    return out


def _detail_json(detail: any_pb2.Any) -> dict[str, Any]:
    try:
        return json_format.MessageToDict(detail)
    except (TypeError, KeyError, json_format.Error):
        # A type this process has no descriptor for: keep it, opaque, rather than drop it.
        return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode("ascii")}


def status_obj(status: status_pb2.Status) -> dict[str, Any]:
    """A google.rpc.Status as its proto3 JSON object: {"code", "message", "details": [{"@type": ...}]}."""
    return {
        "code": status.code,
        "message": status.message,
        "details": [_detail_json(d) for d in status.details],
    }


def status_json(status: status_pb2.Status) -> bytes:
    """A google.rpc.Status as proto3 JSON bytes."""
    return json.dumps(status_obj(status), ensure_ascii=False, separators=(",", ":")).encode()


def status_from_rpc_error(err: grpc.aio.AioRpcError) -> tuple[status_pb2.Status, bool]:
    """The google.rpc.Status of a failed call, and whether the peer sent it as a rich status.

    The peer's `grpc-status-details-bin` trailer wins (it carries the typed details); without one
    the status is built from the call's code and message.
    """
    code = err.code().value[0]
    for key, value in err.trailing_metadata() or ():
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                st = status_pb2.Status.FromString(value)
            except Exception:  # a garbled trailer must not hide the real error
                break
            if st.code == code:
                return st, True
            break
    return status_pb2.Status(code=code, message=err.details() or ""), False


class GatewayError(Exception):
    """An error the gateway answers by itself, with a gRPC code and an HTTP status."""

    def __init__(
        self,
        code: grpc.StatusCode,
        message: str,
        *,
        http: int | None = None,
        details: Sequence[Message] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http if http is not None else http_status(code.value[0])
        self.details = details
        self.headers = headers or {}

    def to_status(self) -> status_pb2.Status:
        """This error as a google.rpc.Status."""
        return status_pb2.Status(code=self.code.value[0], message=self.message, details=pack(self.details))

    def body(self) -> bytes:
        """The JSON body of the error response."""
        return status_json(self.to_status())


def error_info(reason: str, **metadata: str) -> error_details_pb2.ErrorInfo:
    """A google.rpc.ErrorInfo in the gateway's domain."""
    return error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata)


def route_not_found(method: str, path: str) -> GatewayError:
    """No route has this path."""
    return GatewayError(
        grpc.StatusCode.NOT_FOUND, f"no route for {method} {path}", details=[error_info("ROUTE_NOT_FOUND")]
    )


def method_not_allowed(method: str, path: str, allow: str) -> GatewayError:
    """The path is routed, but not for this HTTP method."""
    return GatewayError(
        grpc.StatusCode.UNIMPLEMENTED,
        f"method {method} not allowed on {path}; allowed: {allow}",
        http=405,
        headers={"Allow": allow},
        details=[error_info("METHOD_NOT_ALLOWED", allow=allow)],
    )


def invalid_field(field: str, reason: str) -> GatewayError:
    """A path, query or body value that does not fit its field."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"invalid value for {field}: {reason}",
        details=[grpcutil.bad_request(field, reason)],
    )


def invalid_body(reason: str, field: str = "") -> GatewayError:
    """A request body that is not valid JSON, or not valid for the request message."""
    details = [grpcutil.bad_request(field, reason)] if field else []
    return GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request body: {reason}", details=details)


def body_too_large(limit: int) -> GatewayError:
    """A request body over the configured limit."""
    return GatewayError(
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        f"request body larger than {limit} bytes",
        http=413,
        details=[error_info("BODY_TOO_LARGE", limit=str(limit))],
    )


def invalid_header(name: str, reason: str) -> GatewayError:
    """A request header the gateway reads that does not parse."""
    return GatewayError(
        grpc.StatusCode.INVALID_ARGUMENT,
        f"invalid header {name}: {reason}",
        details=[grpcutil.bad_request(name, reason)],
    )


def backend_message(code: int, message: str, backend: str, address: str) -> str:
    """A transport-level failure's message, naming the backend it happened with.

    Statuses the backend sent deliberately (with a details trailer) keep their own message.
    """
    if code == code_pb2.UNAVAILABLE:
        return f"backend {backend} ({address}) unavailable: {message}"
    if code == code_pb2.DEADLINE_EXCEEDED:
        return f"deadline exceeded waiting for backend {backend}: {message}"
    return message


def backend_status(err: grpc.aio.AioRpcError, backend: str, address: str) -> status_pb2.Status:
    """The google.rpc.Status to answer for a failed forwarded call."""
    st, rich = status_from_rpc_error(err)
    if not rich and st.code in (code_pb2.UNAVAILABLE, code_pb2.DEADLINE_EXCEEDED):
        st.message = backend_message(st.code, st.message, backend, address)
        if st.code == code_pb2.UNAVAILABLE:
            st.details.extend(pack([error_info("BACKEND_UNAVAILABLE", backend=backend, address=address)]))
    return st
