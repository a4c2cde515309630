"""The runtime's settings, from the environment."""

from __future__ import annotations

from labs_core.settings import CommonSettings


class Settings(CommonSettings):
    """Runtime settings: what it runs (api, worker or both) and how the worker consumes."""

    runtime_schema: str = "runtime"
    #: "all" (API and worker), "api" or "worker".
    runtime_role: str = "all"
    worker_id: str = ""
    worker_concurrency: int = 10
    worker_heartbeat_s: float = 5.0
    worker_ack_wait_s: float = 15.0
    worker_consumer: str = "agent-worker"
    #: Extra agent classes, comma separated `module:Class`.
    agent_modules: str = ""
    read_your_writes_timeout_s: float = 2.0
    db_pool_max: int = 10
