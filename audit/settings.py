"""Where the auditor looks: the log, the database and each service's schema (from the environment)."""

from __future__ import annotations

from labs_core.settings import CommonSettings


class AuditSettings(CommonSettings):
    """NATS_URL, DATABASE_URL, STREAM_NAME, SUBJECT_PREFIX and the services' schemas."""

    runtime_schema: str = "runtime"
    tools_schema: str = "tools"
    metrics_schema: str = "metrics"

    def schema_of(self, service: str) -> str:
        """The live schema of a service."""
        return str(getattr(self, f"{service}_schema"))
