"""Settings of the metrics service, from the environment."""

from __future__ import annotations

from labs_core.settings import CommonSettings


class Settings(CommonSettings):
    """What the metrics service needs beyond the common settings."""

    #: Postgres schema of the read model (METRICS_SCHEMA); tests use a fresh one each.
    metrics_schema: str = "metrics"
    #: The workers' durable JetStream consumer whose depth GetMetrics reports (WORKER_CONSUMER).
    worker_consumer: str = "agent-worker"
    #: Events the projector applies per transaction at most (METRICS_PROJECTOR_BATCH).
    metrics_projector_batch: int = 500
    #: Largest size of the query connection pool (METRICS_DB_POOL_SIZE).
    metrics_db_pool_size: int = 5
    #: How long GetMetrics waits for the queue depth before reporting it unknown (QUEUE_PROBE_TIMEOUT_S).
    queue_probe_timeout_s: float = 1.0
