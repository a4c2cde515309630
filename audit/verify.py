"""Replay every service's projections from sequence 1 into scratch schemas and diff the live ones.

The live projection keeps running while we look, so the comparison is made at one point: the
scratch copy is advanced to the live checkpoint, then the live tables and checkpoint are read in
one REPEATABLE READ snapshot (the projector writes rows and checkpoint in one transaction, so the
snapshot is consistent). If the live checkpoint moved meanwhile, the scratch copy catches up and
the comparison is tried again.
"""

from __future__ import annotations

import importlib
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from audit.scan import scan
from audit.settings import AuditSettings
from labs_core.eventlog import EventLog
from labs_core.migrations import check_schema_name, migrate
from labs_core.projector import Projection, Projector, RowDifference, diff_on, read_checkpoint

#: The services whose read models are audited, by the module exposing `projections(prefix, schema)`.
SERVICES: dict[str, str] = {
    "runtime": "services.runtime.bootstrap",
    "tools": "services.tools.bootstrap",
    "metrics": "services.metrics.bootstrap",
}


class VerifyError(Exception):
    """The audit could not be carried out (as opposed to finding a difference)."""


@dataclass
class ProjectionReport:
    """The outcome for one projection."""

    service: str
    projection: str
    live_schema: str
    checkpoint: int = 0
    replayed: int = 0
    differences: list[RowDifference] = field(default_factory=list)
    error: str = ""

    @property
    def clean(self) -> bool:
        """No difference and no error."""
        return not self.differences and not self.error


def service_projections(settings: AuditSettings) -> list[tuple[str, str, Projection]]:
    """(service, live schema, projection) for every projection of every audited service."""
    out = []
    for service, module in SERVICES.items():
        factory: Callable[[str, str], Sequence[Projection]] = importlib.import_module(module).projections
        schema = settings.schema_of(service)
        out += [(service, schema, p) for p in factory(settings.subject_prefix, schema)]
    return out


async def advance(eventlog: EventLog, conn: asyncpg.Connection, projector: Projector, target: int) -> int:
    """Apply the projection's events after its checkpoint up to `target`; returns events applied."""
    applied = 0
    async for batch in scan(eventlog, projector.projection.subjects, projector.checkpoint + 1, target):
        await projector.apply_batch(conn, batch)
        applied += len(batch)
    # Every event up to `target` is applied now, even if the last ones were not the projection's.
    projector.checkpoint = max(projector.checkpoint, target)
    return applied


async def diff_tables(
    conn: asyncpg.Connection, projection: Projection, live: str, scratch: str, *, limit: int = 1000
) -> list[RowDifference]:
    """Rows only in one of the two copies of each of the projection's tables (EXCEPT ALL both ways)."""
    return await diff_on(conn, projection, live, scratch, limit=limit)


async def verify_projection(
    eventlog: EventLog,
    database_url: str,
    service: str,
    projection: Projection,
    live_schema: str,
    *,
    tries: int = 5,
    keep_scratch: bool = False,
) -> ProjectionReport:
    """Rebuild one projection into a scratch schema and diff it with the live one."""
    report = ProjectionReport(service, projection.name, live_schema)
    check_schema_name(live_schema)
    scratch = f"audit_{service}_{secrets.token_hex(4)}"
    conn = await asyncpg.connect(database_url)
    try:
        exists = await conn.fetchval(
            "SELECT to_regclass($1) IS NOT NULL", f'"{live_schema}".projection_checkpoints'
        )
        if not exists:
            report.error = (
                f"schema {live_schema!r} has no projection_checkpoints table (service never started?)"
            )
            return report
        await migrate(conn, scratch, projection.migrations)
        projector = Projector(eventlog, database_url, scratch, projection)
        for _ in range(tries):
            target = await read_checkpoint(conn, live_schema, projection.name)
            report.replayed += await advance(eventlog, conn, projector, target)
            async with conn.transaction(isolation="repeatable_read", readonly=True):
                live_cp = await read_checkpoint(conn, live_schema, projection.name)
                if live_cp == projector.checkpoint:
                    report.checkpoint = live_cp
                    report.differences = await diff_tables(conn, projection, live_schema, scratch)
                    return report
        report.error = (
            f"the live projection kept moving ({tries} tries); run again when the system is quieter"
        )
        return report
    finally:
        if not keep_scratch:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{scratch}" CASCADE')
        await conn.close()


async def verify_all(
    eventlog: EventLog, settings: AuditSettings, *, only: Sequence[str] = ()
) -> list[ProjectionReport]:
    """Verify every projection of every service (or those of the services named in `only`)."""
    reports = []
    for service, schema, projection in service_projections(settings):
        if only and service not in only:
            continue
        reports.append(await verify_projection(eventlog, settings.database_url, service, projection, schema))
    return reports


def _short(row: dict[str, Any], width: int = 300) -> str:
    text = ", ".join(f"{k}={v!r}" for k, v in row.items())
    return text if len(text) <= width else text[: width - 1] + "…"


def render(reports: Sequence[ProjectionReport]) -> list[str]:
    """Human-readable lines: one per projection, then its differences row by row."""
    lines = []
    for r in reports:
        head = f"{r.service:<8} {r.projection:<28} schema {r.live_schema:<12} at sequence {r.checkpoint}"
        if r.error:
            lines.append(f"{head}: ERROR {r.error}")
        elif r.clean:
            lines.append(f"{head}: clean ({r.replayed} events replayed)")
        else:
            lines.append(f"{head}: {len(r.differences)} DIFFERENCE(S) ({r.replayed} events replayed)")
            lines += [f"    {d.table} [{d.side}] {_short(d.row)}" for d in r.differences]
    return lines
