"""The gateway's settings, read from the environment (HTTP_PORT, BODY_LIMIT_BYTES, ...)."""

from __future__ import annotations

from labs_core.settings import CommonSettings

# The generated modules whose services the gateway serves: adding a public service is one line.
PUBLIC_PROTO_MODULES: tuple[str, ...] = (
    "labs.agents.v1.agent_service_pb2",
    "labs.tools.v1.tool_service_pb2",
    "labs.llm.v1.llm_service_pb2",
)

# Modules imported only so that their messages render as typed `details` in error bodies.
DETAIL_PROTO_MODULES: tuple[str, ...] = (
    "google.rpc.error_details_pb2",
    "labs.events.v1.envelope_pb2",
    "labs.events.v1.execution_pb2",
    "labs.events.v1.agent_pb2",
    "labs.events.v1.listing_pb2",
)

# HTTP request headers passed on to the backend as gRPC metadata.
FORWARDED_HEADERS: tuple[str, ...] = ("authorization", "x-request-id", "traceparent", "tracestate")


class Settings(CommonSettings):
    """What the gateway needs: its ports, limits, deadlines and the services it exposes."""

    http_port: int = 8080
    # Largest request body accepted, in bytes (a larger one is a 413).
    body_limit_bytes: int = 1024 * 1024
    # Deadline of a forwarded call when the client sets none, in seconds.
    forward_timeout_s: float = 30.0
    # Upper bound of a deadline asked for with Grpc-Timeout / X-Request-Timeout, in seconds.
    max_forward_timeout_s: float = 300.0
    public_proto_modules: tuple[str, ...] = PUBLIC_PROTO_MODULES
    forwarded_headers: tuple[str, ...] = FORWARDED_HEADERS
    # Log every HTTP request (aiohttp access log); off by default, it costs throughput.
    access_log: bool = False
    # Local development only: serve everyone as admin, without keys (logged loudly at start).
    labs_auth_disabled: bool = False
    # "name:role:key,..." — hashed at load; and/or a JSON or TOML file of {name, role, sha256}.
    labs_api_keys: str = ""
    labs_api_keys_file: str = ""
    # Token bucket per key, by role: "role=rate/burst" (requests per second; rate 0: unlimited).
    rate_limits: str = "viewer=20/40,operator=20/40,admin=50/100"
    # Origins allowed to call from a browser, comma-separated ("*": any); empty: CORS closed.
    cors_allowed_origins: str = ""

    def cors_origins(self) -> tuple[str, ...]:
        """The allowed CORS origins."""
        return tuple(o.strip() for o in self.cors_allowed_origins.split(",") if o.strip())

    def backend_addresses(self) -> dict[str, str]:
        """Backend name (as in `(labs.api.v1.backend)`) -> host:port."""
        return {
            "runtime": self.runtime_addr,
            "tools": self.tools_addr,
            "llm": self.llm_addr,
            "metrics": self.metrics_addr,
        }
