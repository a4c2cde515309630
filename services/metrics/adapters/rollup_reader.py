"""Reads the rollups of one window from Postgres, grouped per agent type and series bucket."""

from __future__ import annotations

from typing import Any

import asyncpg

from labs_core.errors import Unavailable
from labs_core.migrations import check_schema_name
from services.metrics.domain.periods import Period, Window
from services.metrics.domain.report import ErrorRow, HistogramRow, MetricRow, RollupRows, SeriesRow, ToolRow
from services.metrics.domain.rollups import AgentCell


class MetricsStoreUnavailable(Unavailable):
    """The metrics database could not answer (maps to UNAVAILABLE)."""


# $1 grain, $2 window start (also the series origin), $3 window end, $4 agent type ('' = all),
# and for the series queries $5 the series bucket. Rows of a grain never straddle a series
# bucket: the bucket is a multiple of the grain and the window start is grain-aligned.
_WHERE = "WHERE grain_s = $1 AND bucket >= $2 AND bucket < $3 AND ($4::text = '' OR agent_type = $4::text)"

_SERIES = f"""
SELECT agent_type, date_bin($5::interval, bucket, $2) AS start,
  sum(completed)::bigint AS completed, sum(failed)::bigint AS failed, sum(cancelled)::bigint AS cancelled,
  sum(timed_out)::bigint AS timed_out, sum(latency_count)::bigint AS latency_count,
  sum(latency_sum_ns)::numeric AS latency_sum_ns, min(latency_min_ns) AS latency_min_ns,
  max(latency_max_ns) AS latency_max_ns, sum(tokens_in)::bigint AS tokens_in,
  sum(tokens_out)::bigint AS tokens_out, sum(cost_usd) AS cost_usd, sum(model_calls)::bigint AS model_calls
FROM {{schema}}.agent_rollups {_WHERE}
GROUP BY 1, 2
"""

_HISTOGRAM = f"""
SELECT agent_type, date_bin($5::interval, bucket, $2) AS start, le_index, sum(count)::bigint AS count
FROM {{schema}}.latency_histogram {_WHERE}
GROUP BY 1, 2, 3
"""

_ERRORS = f"""
SELECT agent_type, category, sum(failures)::bigint AS failures, sum(retries)::bigint AS retries,
  (array_agg(example ORDER BY example_seq DESC))[1] AS example, max(example_seq) AS example_seq
FROM {{schema}}.error_rollups {_WHERE}
GROUP BY 1, 2
"""

_TOOLS = f"""
SELECT agent_type, tool, sum(calls)::bigint AS calls, sum(errors)::bigint AS errors
FROM {{schema}}.tool_rollups {_WHERE}
GROUP BY 1, 2
"""

_METRICS = f"""
SELECT agent_type, name, sum(value) AS value
FROM {{schema}}.custom_metric_rollups {_WHERE}
GROUP BY 1, 2
"""


class RollupReader:
    """The query side of the metrics schema, over a connection pool."""

    def __init__(self, pool: asyncpg.Pool, schema: str) -> None:
        self.pool = pool
        self.schema = f'"{check_schema_name(schema)}"'
        # The schema is fixed for the reader's life: format the queries once.
        self._series = _SERIES.format(schema=self.schema)
        self._histogram = _HISTOGRAM.format(schema=self.schema)
        self._errors = _ERRORS.format(schema=self.schema)
        self._tools = _TOOLS.format(schema=self.schema)
        self._metrics = _METRICS.format(schema=self.schema)

    async def read(self, period: Period, window: Window, agent_type: str, *, timeout: float) -> RollupRows:
        """The window's rollups in one consistent snapshot."""
        args: tuple[Any, ...] = (period.grain_s, window.start, window.end, agent_type)
        series_args = (*args, period.bucket)
        try:
            async with (
                self.pool.acquire(timeout=timeout) as conn,
                conn.transaction(isolation="repeatable_read", readonly=True),
            ):
                series = await conn.fetch(self._series, *series_args, timeout=timeout)
                histogram = await conn.fetch(self._histogram, *series_args, timeout=timeout)
                errors = await conn.fetch(self._errors, *args, timeout=timeout)
                tools = await conn.fetch(self._tools, *args, timeout=timeout)
                metrics = await conn.fetch(self._metrics, *args, timeout=timeout)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            raise MetricsStoreUnavailable(f"metrics store did not answer: {e!r}") from e
        return RollupRows(
            series=[
                SeriesRow(
                    r["agent_type"],
                    r["start"],
                    AgentCell(
                        completed=r["completed"],
                        failed=r["failed"],
                        cancelled=r["cancelled"],
                        timed_out=r["timed_out"],
                        latency_count=r["latency_count"],
                        latency_sum_ns=int(r["latency_sum_ns"]),
                        latency_min_ns=r["latency_min_ns"],
                        latency_max_ns=r["latency_max_ns"],
                        tokens_in=r["tokens_in"],
                        tokens_out=r["tokens_out"],
                        cost_usd=r["cost_usd"],
                        model_calls=r["model_calls"],
                    ),
                )
                for r in series
            ],
            histogram=[
                HistogramRow(r["agent_type"], r["start"], r["le_index"], r["count"]) for r in histogram
            ],
            errors=[
                ErrorRow(
                    r["agent_type"],
                    r["category"],
                    r["failures"],
                    r["retries"],
                    r["example"],
                    r["example_seq"],
                )
                for r in errors
            ],
            tools=[ToolRow(r["agent_type"], r["tool"], r["calls"], r["errors"]) for r in tools],
            metrics=[MetricRow(r["agent_type"], r["name"], r["value"]) for r in metrics],
        )
