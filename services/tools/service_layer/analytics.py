"""User metrics and the market, agents and user reports, from the tools schema's read models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.tools.domain.reports import Report

# Tokens and cost of an execution: the model proxy's record (ModelCallRecorded, which also sees the
# calls tools make for the execution) or, when larger, the runtime's ModelCallCompleted sum (the
# proxy's record is missing for calls it could not record).
PERIODS = {
    "1h": timedelta(hours=1),
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}

_EXEC_FIGURES = """
  count(*) AS executions,
  count(*) FILTER (WHERE status = 'completed') AS completed,
  count(*) FILTER (WHERE status = 'failed') AS failed,
  count(*) FILTER (WHERE status = 'timed_out') AS timed_out,
  count(*) FILTER (WHERE status = 'cancelled') AS cancelled,
  count(*) FILTER (WHERE ended_at IS NULL) AS in_progress,
  COALESCE(sum(GREATEST(tokens_in, proxy_tokens_in)), 0) AS tokens_in,
  COALESCE(sum(GREATEST(tokens_out, proxy_tokens_out)), 0) AS tokens_out,
  COALESCE(sum(GREATEST(cost_usd, proxy_cost_usd)), 0) AS cost_usd,
  avg(EXTRACT(EPOCH FROM ended_at - requested_at) * 1000) AS avg_latency_ms,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ended_at - requested_at) * 1000) AS p50_latency_ms,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM ended_at - requested_at) * 1000) AS p95_latency_ms
"""


def _rate(done: int, ok: int) -> float | None:
    return None if done == 0 else round(ok / done, 4)


def _figures(r: asyncpg.Record) -> dict[str, Any]:
    finished = r["completed"] + r["failed"] + r["timed_out"] + r["cancelled"]
    return {
        "executions": r["executions"],
        "completed": r["completed"],
        "failed": r["failed"],
        "timed_out": r["timed_out"],
        "cancelled": r["cancelled"],
        "in_progress": r["in_progress"],
        "success_rate": _rate(finished, r["completed"]),
        "tokens_in": int(r["tokens_in"]),
        "tokens_out": int(r["tokens_out"]),
        "cost_usd": round(float(r["cost_usd"]), 6),
        "avg_latency_ms": None if r["avg_latency_ms"] is None else round(float(r["avg_latency_ms"]), 3),
        "p50_latency_ms": None if r["p50_latency_ms"] is None else round(float(r["p50_latency_ms"]), 3),
        "p95_latency_ms": None if r["p95_latency_ms"] is None else round(float(r["p95_latency_ms"]), 3),
    }


class Analytics:
    """Queries over activity_executions, listings and notifications (all in this service's schema)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @staticmethod
    def window(period: str, now: datetime | None = None) -> tuple[datetime, datetime]:
        """(since, until) of a period ending now."""
        until = now or datetime.now(UTC)
        return until - PERIODS[period], until

    async def user_metrics(self, user: str, period: str) -> dict[str, Any]:
        """Executions the user submitted and how they went, tokens and cost, listings, notifications."""
        since, until = self.window(period)
        async with self.pool.acquire() as conn:
            ex = await conn.fetchrow(
                f"SELECT {_EXEC_FIGURES} FROM activity_executions WHERE actor = $1 AND requested_at >= $2",
                user,
                since,
            )
            by_type = await conn.fetch(
                "SELECT agent_type, count(*) AS n, count(*) FILTER (WHERE status = 'completed') AS ok "
                "FROM activity_executions WHERE actor = $1 AND requested_at >= $2 GROUP BY agent_type ORDER BY agent_type",
                user,
                since,
            )
            listings = await conn.fetchval(
                "SELECT count(*) FROM listings WHERE seller = $1 AND created_at >= $2", user, since
            )
            notes = await conn.fetchrow(
                "SELECT count(*) AS n, count(*) FILTER (WHERE channel = 'in_app') AS in_app "
                "FROM notifications WHERE recipient = $1 AND created_at >= $2",
                user,
                since,
            )
        assert ex is not None and notes is not None
        f = _figures(ex)
        return {
            "user": user,
            "period": period,
            "since": since.isoformat(),
            "until": until.isoformat(),
            "executions": {
                k: f[k]
                for k in ("executions", "completed", "failed", "timed_out", "cancelled", "in_progress")
            }
            | {"success_rate": f["success_rate"]},
            "by_agent_type": {r["agent_type"]: {"executions": r["n"], "completed": r["ok"]} for r in by_type},
            "tokens": {
                "input": f["tokens_in"],
                "output": f["tokens_out"],
                "total": f["tokens_in"] + f["tokens_out"],
            },
            "cost_usd": f["cost_usd"],
            "listings_created": int(listings),
            "notifications_received": int(notes["n"]),
            "notifications_in_app": int(notes["in_app"]),
        }

    async def agents_report(self, period: str, agent_type: str | None) -> Report:
        """Per agent type: executions, outcomes, success rate, latency, tokens and cost."""
        since, until = self.window(period)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT agent_type, {_EXEC_FIGURES} FROM activity_executions WHERE requested_at >= $1 "
                "AND ($2::text IS NULL OR agent_type = $2) GROUP BY agent_type ORDER BY agent_type",
                since,
                agent_type,
            )
        table = [{"agent_type": r["agent_type"], **_figures(r)} for r in rows]
        total = sum(t["executions"] for t in table)
        done = sum(t["completed"] + t["failed"] + t["timed_out"] + t["cancelled"] for t in table)
        ok = sum(t["completed"] for t in table)
        cols = ("agent_type", "executions", "completed", "failed", "timed_out", "cancelled", "in_progress",
                "success_rate", "avg_latency_ms", "p50_latency_ms", "p95_latency_ms", "tokens_in", "tokens_out",
                "cost_usd")  # fmt: skip
        return Report(
            "agents",
            f"Agents report, last {period}",
            cols,
            tuple(table),
            {"executions": total, "success_rate": _rate(done, ok), "agent_types": len(table)},
            {
                "period": period,
                "agent_type": agent_type,
                "since": since.isoformat(),
                "until": until.isoformat(),
            },
            until.isoformat(),
        )

    async def market_report(self, period: str, category: str | None, currency: str) -> Report:
        """Per category: listings listed in the period, active ones, price statistics."""
        since, until = self.window(period)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT category, count(*) AS listings, count(*) FILTER (WHERE status = 'active') AS active, "
                "count(DISTINCT seller) AS sellers, "
                "round(avg(price_cents) / 100.0, 2) AS mean_price, "
                "round((percentile_cont(0.5) WITHIN GROUP (ORDER BY price_cents) / 100.0)::numeric, 2) AS median_price, "
                "min(price_cents) / 100.0 AS min_price, max(price_cents) / 100.0 AS max_price "
                "FROM listings WHERE created_at >= $1 AND currency = $3 AND ($2::text IS NULL OR category = $2) "
                "GROUP BY category ORDER BY category",
                since,
                category,
                currency,
            )
        table = [
            {k: (float(v) if k.endswith("price") and v is not None else v) for k, v in dict(r).items()}
            for r in rows
        ]
        cols = (
            "category",
            "listings",
            "active",
            "sellers",
            "mean_price",
            "median_price",
            "min_price",
            "max_price",
        )
        return Report(
            "market",
            f"Market report, last {period} ({currency})",
            cols,
            tuple(table),
            {"listings": sum(t["listings"] for t in table), "categories": len(table)},
            {"period": period, "category": category, "currency": currency, "since": since.isoformat()},
            until.isoformat(),
        )

    async def user_report(self, user: str, period: str) -> Report:
        """The user's figures, then one row per agent type they used."""
        m = await self.user_metrics(user, period)
        since, until = self.window(period)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                f"SELECT agent_type, {_EXEC_FIGURES} FROM activity_executions WHERE actor = $1 AND requested_at >= $2 "
                "GROUP BY agent_type ORDER BY agent_type",
                user,
                since,
            )
        table = [{"agent_type": r["agent_type"], **_figures(r)} for r in rows]
        cols = ("agent_type", "executions", "completed", "failed", "success_rate", "avg_latency_ms", "tokens_in",
                "tokens_out", "cost_usd")  # fmt: skip
        summary = {
            "executions": m["executions"]["executions"],
            "success_rate": m["executions"]["success_rate"],
            "tokens": m["tokens"]["total"],
            "cost_usd": m["cost_usd"],
            "listings_created": m["listings_created"],
            "notifications_received": m["notifications_received"],
        }
        return Report(
            "user",
            f"Activity of {user}, last {period}",
            cols,
            tuple(table),
            summary,
            {"user": user, "period": period, "since": m["since"]},
            until.isoformat(),
        )
