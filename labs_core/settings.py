"""Typed settings read from the environment; one frozen object per service builds on these."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from labs_core.auth import InternalAuth

DEFAULT_PORTS = {
    "gateway": 50050,
    "runtime": 50051,
    "tools": 50052,
    "llm": 50053,
    "metrics": 50054,
}


class CommonSettings(BaseSettings):
    """What every service needs: where the log and the database are, and where its peers listen."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore")

    nats_url: str = "nats://127.0.0.1:4222"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/labs"
    stream_name: str = "AGENTS"
    subject_prefix: str = "agents"
    # Host the services bind to and dial each other on.
    bind_host: str = "127.0.0.1"
    runtime_addr: str = f"127.0.0.1:{DEFAULT_PORTS['runtime']}"
    tools_addr: str = f"127.0.0.1:{DEFAULT_PORTS['tools']}"
    llm_addr: str = f"127.0.0.1:{DEFAULT_PORTS['llm']}"
    metrics_addr: str = f"127.0.0.1:{DEFAULT_PORTS['metrics']}"
    gateway_grpc_addr: str = f"127.0.0.1:{DEFAULT_PORTS['gateway']}"
    log_level: str = "INFO"
    # Grace period for in-flight RPCs when a server stops, in seconds.
    shutdown_grace_s: float = 5.0
    # The secret every internal gRPC call carries and every backend checks (no default: a
    # service refuses to start without it; the local launcher generates one into its data dir).
    labs_internal_token: SecretStr = Field(default=SecretStr(""), repr=False)

    def internal_auth(self) -> InternalAuth:
        """The services' shared secret; AuthConfigError naming LABS_INTERNAL_TOKEN when unset or weak."""
        return InternalAuth(self.labs_internal_token.get_secret_value())

    def port_of(self, addr: str) -> int:
        """The port of a host:port address."""
        return int(addr.rsplit(":", 1)[1])
