"""Settings of the tools service (environment variables, read once at the entry point)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from labs_core.migrations import check_schema_name
from labs_core.settings import CommonSettings


class ToolLimit(BaseModel):
    """Per-tool overrides of the invocation limits."""

    model_config = ConfigDict(frozen=True)

    timeout_s: float | None = Field(default=None, gt=0)
    max_concurrency: int | None = Field(default=None, ge=1)


class WebhookEndpoint(BaseModel):
    """A webhook target an operator configured: its URL and the secret its requests are signed with."""

    model_config = ConfigDict(frozen=True)

    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")
    secret: SecretStr = Field(min_length=16)


class Settings(CommonSettings):
    """Tools service settings. Env: TOOLS_SCHEMA, CATALOGUE_SEED_ENABLED, CATALOGUE_SEED, ..."""

    #: Postgres schema of the read models.
    tools_schema: str = "tools"
    #: Seed the sample catalogue at start-up (idempotent).
    catalogue_seed_enabled: bool = True
    #: The random seed the catalogue is generated from, and how many listings it has.
    catalogue_seed: int = 20240917
    catalogue_size: int = Field(default=2000, ge=0, le=100_000)
    #: Default time limit of one tool call, in seconds, and calls of one tool at once.
    tool_timeout_s: float = Field(default=10.0, gt=0)
    tool_max_concurrency: int = Field(default=32, ge=1)
    #: Per-tool overrides, JSON: {"analyze_market_price": {"timeout_s": 5, "max_concurrency": 4}}.
    tool_limits: dict[str, ToolLimit] = Field(default_factory=dict)
    #: How long a write waits for its read model to catch up (read-your-writes), in seconds.
    read_wait_s: float = Field(default=5.0, gt=0)
    #: Listing searches and market figures remembered against the listings projection's checkpoint
    #: (0: none), and how old a market figure (its window ends "now") may be when given again.
    listings_cache_entries: int = Field(default=512, ge=0)
    market_stats_max_age_s: float = Field(default=1.0, ge=0)
    #: Answers of read-only tools registered with a Memo (get_listings, analyze_market_price)
    #: remembered per tool and arguments against their read model's version (0: none).
    tool_memo_entries: int = Field(default=128, ge=0)
    #: Connections of the read-model pool.
    db_pool_size: int = Field(default=10, ge=1)

    #: Named webhook endpoints, JSON: {"ops": {"url": "https://...", "secret": "..."}}. send_notification
    #: posts only to these: a caller-given URL would let an agent reach internal addresses (SSRF).
    webhook_endpoints: dict[str, WebhookEndpoint] = Field(default_factory=dict)
    #: Webhook delivery: attempts (bounded), first backoff (doubling), per-request timeout.
    webhook_max_attempts: int = Field(default=3, ge=1, le=10)
    webhook_backoff_s: float = Field(default=0.5, ge=0)
    webhook_timeout_s: float = Field(default=3.0, gt=0)
    #: get_system_health reports the agent-worker consumer degraded above this many pending events.
    consumer_lag_warn: int = Field(default=1000, ge=0)

    #: Scheduler (schedule_task): run the loop in this replica, its tick, and how late an occurrence
    #: may be seen and still count as on time (later ones are "missed": see the schedule's missed_policy).
    scheduler_enabled: bool = True
    scheduler_tick_s: float = Field(default=1.0, gt=0)
    scheduler_grace_s: float = Field(default=60.0, ge=0)
    #: execute_database_query: statement timeout and row cap.
    query_statement_timeout_ms: int = Field(default=2000, ge=10, le=60_000)
    query_max_rows: int = Field(default=500, ge=1, le=10_000)
    #: Remote tools (RegisterTool): health-check period, failed checks in a row before retiring, check timeout.
    remote_tool_check_s: float = Field(default=5.0, gt=0)
    remote_tool_failures: int = Field(default=2, ge=1)
    remote_tool_check_timeout_s: float = Field(default=2.0, gt=0)

    @field_validator("tools_schema")
    @classmethod
    def _schema_name(cls, v: str) -> str:
        return check_schema_name(v)
