"""What the local launcher starts and where: read once from the environment.

The services' own variables (NATS_URL, DATABASE_URL, STREAM_NAME, SUBJECT_PREFIX, *_ADDR,
HTTP_PORT, LOG_LEVEL) keep their meaning; the launcher's own ones start with LABS_.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from labs_core.settings import CommonSettings

ROOT = Path(__file__).resolve().parents[2]

#: Start order: a service's dependencies come before it (gateway -> runtime -> tools, llm).
SERVICES = ("tools", "llm", "metrics", "runtime", "gateway")

#: The variable holding each service's gRPC address (also what the others dial).
ADDR_ENV = {
    "gateway": "GATEWAY_GRPC_ADDR",
    "runtime": "RUNTIME_ADDR",
    "tools": "TOOLS_ADDR",
    "llm": "LLM_ADDR",
    "metrics": "METRICS_ADDR",
}

DEFAULT_HTTP_PORT = 8080
DEFAULT_NATS_PORT = 4222
DEFAULT_PG_PORT = 5432


@dataclass(frozen=True)
class PortUse:
    """A port the launcher needs free, what it is for, and the variable that moves it."""

    port: int
    what: str
    env: str


@dataclass(frozen=True)
class StackConfig:
    """Everything the launcher needs to know, resolved from the environment."""

    data_dir: Path
    #: Set when the caller brings its own server (then none is started for it).
    external_nats_url: str | None
    external_database_url: str | None
    nats_port: int
    pg_port: int
    http_port: int
    bind_host: str
    addrs: Mapping[str, str]
    stream_name: str
    subject_prefix: str
    log_level: str
    start_timeout_s: float
    stop_grace_s: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> StackConfig:
        """Read the configuration; ValueError names a variable that does not parse."""
        env = os.environ if env is None else env
        common = CommonSettings(**_settings_overrides(env))
        data_dir = Path(env.get("LABS_DATA_DIR") or ROOT / ".data").resolve()
        return cls(
            data_dir=data_dir,
            external_nats_url=env.get("NATS_URL") or None,
            external_database_url=env.get("DATABASE_URL") or None,
            nats_port=_int(env, "LABS_NATS_PORT", DEFAULT_NATS_PORT),
            pg_port=_int(env, "LABS_PG_PORT", DEFAULT_PG_PORT),
            http_port=_int(env, "HTTP_PORT", DEFAULT_HTTP_PORT),
            bind_host=common.bind_host,
            addrs={name: getattr(common, var.lower()) for name, var in ADDR_ENV.items()},
            stream_name=common.stream_name,
            subject_prefix=common.subject_prefix,
            log_level=common.log_level,
            start_timeout_s=float(_int(env, "LABS_START_TIMEOUT", 90)),
            stop_grace_s=float(_int(env, "LABS_STOP_GRACE", 10)),
        )

    @property
    def logs_dir(self) -> Path:
        """Where every server and service writes its log."""
        return self.data_dir / "logs"

    @property
    def run_dir(self) -> Path:
        """Where the launcher keeps its lock and the PIDs of what it started."""
        return self.data_dir / "run"

    def grpc_port(self, service: str) -> int:
        """The port of a service's gRPC address."""
        return CommonSettings.model_construct().port_of(self.addrs[service])

    def server_ports(self) -> list[PortUse]:
        """Ports of the servers the launcher will start itself."""
        ports = []
        if not self.external_nats_url:
            ports.append(PortUse(self.nats_port, "nats-server", "LABS_NATS_PORT"))
        if not self.external_database_url:
            ports.append(PortUse(self.pg_port, "postgres", "LABS_PG_PORT"))
        return ports

    def service_ports(self) -> list[PortUse]:
        """Ports the services will listen on."""
        ports = [PortUse(self.http_port, "gateway HTTP", "HTTP_PORT")]
        ports += [PortUse(self.grpc_port(s), f"{s} gRPC", ADDR_ENV[s]) for s in SERVICES]
        return ports

    def service_env(self, nats_url: str, database_url: str) -> dict[str, str]:
        """The variables every service gets (on top of the launcher's own environment)."""
        env = {
            "NATS_URL": nats_url,
            "DATABASE_URL": database_url,
            "STREAM_NAME": self.stream_name,
            "SUBJECT_PREFIX": self.subject_prefix,
            "BIND_HOST": self.bind_host,
            "HTTP_PORT": str(self.http_port),
            "LOG_LEVEL": self.log_level,
            "PYTHONUNBUFFERED": "1",
        }
        env.update({ADDR_ENV[s]: self.addrs[s] for s in SERVICES})
        # Each service's /metrics port (labs_core.telemetry), unless the caller chose one.
        env.update({n: os.environ.get(n, str(p)) for n, p in metrics_port_env().items()})
        return env


def metrics_port_env() -> dict[str, str]:
    """`<SERVICE>_METRICS_HTTP_PORT` -> the default port `make up` gives it."""
    from labs_core.telemetry import DEFAULT_METRICS_PORTS

    return {f"{s.upper()}_METRICS_HTTP_PORT": str(p) for s, p in DEFAULT_METRICS_PORTS.items()}


def _settings_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    # CommonSettings reads os.environ itself; an explicit mapping (the tests') wins over it.
    names = ["STREAM_NAME", "SUBJECT_PREFIX", "BIND_HOST", "LOG_LEVEL", *ADDR_ENV.values()]
    return {n.lower(): env[n] for n in names if env.get(n)}


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None
