"""Projections: read models built from the log, exactly once, one active instance each.

A projection applies a batch of events and its checkpoint moves in the same transaction, so a
crash at any point re-applies nothing twice (at-least-once delivery, exactly-once effect).
Projections write unqualified table names: the projector sets `search_path` to the target
schema, which lets an audit rebuild the same projection into a scratch schema and diff it.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from labs_core import telemetry
from labs_core.eventlog import EventLog, Hurry, StoredEvent
from labs_core.eventlog.log import SubjectMatcher
from labs_core.migrations import check_schema_name, migrate

log = logging.getLogger(__name__)


class Projection(abc.ABC):
    """A read model: which events it reads, which tables it owns, how it applies a batch."""

    #: Unique name, also the checkpoint's key and the advisory lock's.
    name: str
    #: Subject filters of the events it reads.
    subjects: Sequence[str]
    #: Tables it owns, each with the columns that identify a row (for audit diffs).
    tables: Mapping[str, Sequence[str]]
    #: Folder of its SQL migrations.
    migrations: Path
    #: How long a live batch may wait for more events (seconds). 0 for read models a caller
    #: waits on (read-your-writes); a read model only queried later (rollups, dashboards) saves
    #: most of its transactions at moderate rates by lingering a few tens of milliseconds.
    linger_s: float = 0.0
    #: Event types (the subject's last token) that end a linger at once: those whose effect a
    #: reader polls for (an execution's terminal status). Empty: every event may linger.
    urgent_types: frozenset[str] = frozenset()

    def urgent(self) -> Callable[[str], bool] | None:
        """The subscription's test for an urgent subject (None: no such events)."""
        types = self.urgent_types
        if not types:
            return None
        return lambda subject: subject[subject.rfind(".") + 1 :] in types

    @abc.abstractmethod
    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Apply events (in order, none applied before) inside the caller's transaction."""

    def lock_key(self, schema: str) -> int:
        """The advisory lock that keeps one instance active per (projection, target schema)."""
        digest = hashlib.sha256(f"projection:{self.name}:{schema}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)


class Projector:
    """Runs one projection into one schema: catch up, follow, checkpoint, notify waiters."""

    def __init__(
        self,
        eventlog: EventLog,
        database_url: str,
        schema: str,
        projection: Projection,
        *,
        batch_size: int = 500,
        catch_up_batch_size: int = 5000,
        standby_poll_s: float = 1.0,
    ) -> None:
        self.log = eventlog
        self.database_url = database_url
        self.schema = check_schema_name(schema)
        self.projection = projection
        self.batch_size = batch_size
        self.catch_up_batch_size = catch_up_batch_size
        self.standby_poll_s = standby_poll_s
        self.checkpoint = 0
        self.active = False
        self._advanced = asyncio.Condition()
        #: Told by `wait_for` what it waits for: a lingering live batch holding it is handed over.
        self._hurry = Hurry()
        self._conn: asyncpg.Connection | None = None
        self._search_path_set: asyncpg.Connection | None = None
        self._stopped = False

    async def _read_checkpoint(self, conn: asyncpg.Connection) -> int:
        return await read_checkpoint(conn, self.schema, self.projection.name)

    async def run(self) -> None:
        """Forever: become the active instance, then apply events as they come; retry on failure."""
        delay = 0.2
        while not self._stopped:
            try:
                await self._run_once()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("projection %s failed; restarting from its checkpoint", self.projection.name)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            finally:
                self.active = False
                if self._conn is not None:
                    with contextlib.suppress(Exception):
                        await self._conn.close()
                    self._conn = None

    async def _run_once(self) -> None:
        conn = self._conn = await asyncpg.connect(self.database_url)
        # A projection's commits need not wait for the WAL flush: a crash of PostgreSQL can lose
        # only its last transactions, each with its checkpoint (they commit together), and the
        # projector re-applies them from the log. Nothing else is written on this connection.
        await conn.execute("SET synchronous_commit TO off")
        while not await conn.fetchval(
            "SELECT pg_try_advisory_lock($1)", self.projection.lock_key(self.schema)
        ):
            # Another instance is active: follow its checkpoint so waiters still get answers.
            await self._set_checkpoint(await self._read_checkpoint(conn))
            await asyncio.sleep(self.standby_poll_s)
        self.active = True
        await self._set_checkpoint(await self._read_checkpoint(conn))
        telemetry.track_projector(self)
        log.info("projection %s active from sequence %d", self.projection.name, self.checkpoint + 1)
        # Catch up to the log's head in large batches, reading only the projection's subjects;
        # then follow it.
        head = await self.log.last_sequence()
        if head > self.checkpoint:
            async for batch in self.log.replay(
                self.projection.subjects, self.checkpoint + 1, until=head, batch_size=self.catch_up_batch_size
            ):
                await self.apply_batch(conn, batch)
        async for batch in self.log.subscribe(
            self.projection.subjects,
            self.checkpoint + 1,
            batch_size=self.batch_size,
            linger_s=self.projection.linger_s,
            hurry=self._hurry,
            urgent=self.projection.urgent(),
        ):
            await self.apply_batch(conn, batch)

    async def apply_batch(self, conn: asyncpg.Connection, batch: Sequence[StoredEvent]) -> None:
        """Apply one batch and move the checkpoint, in one transaction."""
        fresh = [e for e in batch if e.sequence > self.checkpoint]
        if not fresh:
            return
        last = fresh[-1].sequence
        if self._search_path_set is not conn:
            # The connection is this projector's own: set its schema once, not per transaction.
            await conn.execute(f'SET search_path TO "{self.schema}"')
            self._search_path_set = conn
        async with conn.transaction():
            await self.projection.apply(conn, fresh)
            await conn.execute(
                "INSERT INTO projection_checkpoints (projection, last_sequence) VALUES ($1, $2) "
                "ON CONFLICT (projection) DO UPDATE SET last_sequence = EXCLUDED.last_sequence",
                self.projection.name,
                last,
            )
        await self._set_checkpoint(last)
        telemetry.batch_applied(self, fresh)

    async def _set_checkpoint(self, seq: int) -> None:
        if seq > self.checkpoint:
            self.checkpoint = seq
            telemetry.checkpoint_moved(self, seq)
            async with self._advanced:
                self._advanced.notify_all()

    async def wait_for(self, sequence: int, timeout: float) -> bool:
        """Wait until the projection has applied `sequence`; False on timeout."""
        if self.checkpoint >= sequence:
            return True
        self._hurry.want(sequence)
        try:
            async with asyncio.timeout(timeout), self._advanced:
                await self._advanced.wait_for(lambda: self.checkpoint >= sequence)
            return True
        except TimeoutError:
            return self.checkpoint >= sequence

    def stop(self) -> None:
        """Ask `run` to end after its current batch."""
        self._stopped = True


def unnest_columns(rows: Iterable[Sequence[Any]], width: int) -> list[list[Any]]:
    """Rows -> one list per column, the shape `unnest($1::t[], $2::t[], ...)` takes (projections
    write a batch set-wise with it)."""
    cols = [list(c) for c in zip(*rows, strict=True)]
    if not cols:
        return [[] for _ in range(width)]
    if len(cols) != width:
        raise ValueError(f"rows of {len(cols)} values, expected {width}")
    return cols


def sum_in_order(start: float, terms: Iterable[float]) -> float:
    """`start` plus each term in turn: float addition is not associative, so a projection that
    folds a batch adds its terms in log order, as one event at a time would have."""
    for t in terms:
        start += t
    return start


@dataclass(frozen=True)
class RowDifference:
    """A row present in only one of the live and rebuilt tables (or different between them)."""

    table: str
    side: str  # "live only" or "rebuilt only"
    row: dict[str, Any]


async def rebuild(
    eventlog: EventLog,
    database_url: str,
    projection: Projection,
    scratch_schema: str,
    *,
    batch_size: int = 5000,
) -> int:
    """Rebuild a projection from sequence 1 up to the log's last sequence when it starts into a
    fresh scratch schema; returns events applied (`rebuild_many` of one)."""
    (seen,) = await rebuild_many(
        eventlog, database_url, [(projection, scratch_schema)], batch_size=batch_size
    )
    return seen


async def rebuild_many(
    eventlog: EventLog,
    database_url: str,
    targets: Sequence[tuple[Projection, str]],
    *,
    batch_size: int = 5000,
) -> list[int]:
    """Rebuild each (projection, scratch schema) from sequence 1 up to the log's last sequence
    when it starts, from one read of the log; returns events applied per projection.

    A rebuild is a bulk load: each projection's secondary indexes (neither unique nor backing a
    constraint, so no `ON CONFLICT` depends on them) are dropped for the replay and built again
    at the end, and commits do not wait for the WAL flush (a crash loses only the scratch copy).
    The rows are exactly what the live projection writes: the same `apply`, batch by batch.

    The log is read once for all of them (an event several projections read is fetched and
    decoded once) by a task of its own, and each projection applies its share on a connection
    of its own: while PostgreSQL applies one batch, the next ones are read and decoded and the
    other projections apply theirs (two cores: Python and PostgreSQL work at once). A failure
    of any part stops the others and is raised.
    """
    if not targets:
        return []
    for _, schema in targets:
        check_schema_name(schema)
    if len({schema for _, schema in targets}) != len(targets):
        raise ValueError("each projection needs a scratch schema of its own")
    subjects = list(dict.fromkeys(s for projection, _ in targets for s in projection.subjects))
    single = len(targets) == 1
    matchers = [SubjectMatcher(projection.subjects) for projection, _ in targets]
    queues: list[asyncio.Queue[list[StoredEvent] | None]] = [asyncio.Queue(4) for _ in targets]
    counts = [0] * len(targets)

    async def read() -> None:
        async for batch in eventlog.replay(subjects, 1, batch_size=batch_size):
            for i, q in enumerate(queues):
                part = batch if single else [se for se in batch if matchers[i](se.subject)]
                if part:
                    await q.put(part)
        for q in queues:
            await q.put(None)

    async def apply(i: int) -> None:
        projection, schema = targets[i]
        conn = await asyncpg.connect(database_url)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            await migrate(conn, schema, projection.migrations)
            await conn.execute("SET synchronous_commit TO off")
            deferred = await drop_secondary_indexes(conn, schema, projection.tables)
            projector = Projector(eventlog, database_url, schema, projection, batch_size=batch_size)
            while (batch := await queues[i].get()) is not None:
                await projector.apply_batch(conn, batch)
                counts[i] += len(batch)
            await create_indexes(conn, database_url, deferred)
        finally:
            await conn.close()

    try:
        async with asyncio.TaskGroup() as tg:
            for i in range(len(targets)):
                tg.create_task(apply(i))
            tg.create_task(read())
    except BaseExceptionGroup as eg:
        # One failure cancels the rest: raise it, not the group.
        raise eg.exceptions[0] from None
    return counts


async def create_indexes(conn: asyncpg.Connection, database_url: str, ddl: Sequence[str]) -> None:
    """Run index builds on `conn` and, when there are several, on a second connection at once
    (one build uses one core; a text-search index alone can take as long as all the others)."""
    todo = list(ddl)

    async def build(c: asyncpg.Connection) -> None:
        while todo:
            await c.execute(todo.pop(0))

    if len(todo) < 2:
        await build(conn)
        return
    other = await asyncpg.connect(database_url)
    try:
        await asyncio.gather(build(conn), build(other))
    finally:
        await other.close()


async def drop_secondary_indexes(
    conn: asyncpg.Connection, schema: str, tables: Mapping[str, Sequence[str]]
) -> list[str]:
    """Drop the indexes of `tables` that no constraint or conflict target needs (not unique, not
    a constraint's); returns the statements that create them again."""
    rows = await conn.fetch(
        """
        SELECT ic.relname AS index, pg_get_indexdef(i.indexrelid) AS ddl
        FROM pg_index i
        JOIN pg_class ic ON ic.oid = i.indexrelid
        JOIN pg_class t ON t.oid = i.indrelid
        JOIN pg_namespace n ON n.oid = t.relnamespace
        WHERE n.nspname = $1 AND t.relname = ANY($2::text[])
          AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
          AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
        ORDER BY ic.relname
        """,
        check_schema_name(schema),
        list(tables),
    )
    for r in rows:
        await conn.execute(f'DROP INDEX "{schema}"."{r["index"]}"')
    return [r["ddl"] for r in rows]


async def read_checkpoint(conn: asyncpg.Connection, schema: str, projection: str) -> int:
    """The last sequence a projection applied in `schema` (0 when it has applied nothing)."""
    v = await conn.fetchval(
        f'SELECT last_sequence FROM "{check_schema_name(schema)}".projection_checkpoints WHERE projection = $1',
        projection,
    )
    return int(v or 0)


async def diff_on(
    conn: asyncpg.Connection,
    projection: Projection,
    live_schema: str,
    scratch_schema: str,
    *,
    limit: int = 1000,
) -> list[RowDifference]:
    """Rows that differ between the live and the rebuilt tables, both ways, on `conn` (so a
    caller can compare inside its own snapshot)."""
    check_schema_name(live_schema)
    check_schema_name(scratch_schema)
    out: list[RowDifference] = []
    for table, keys in projection.tables.items():
        order = ", ".join(f'"{k}"' for k in keys)
        for side, a, b in (
            ("live only", live_schema, scratch_schema),
            ("rebuilt only", scratch_schema, live_schema),
        ):
            rows = await conn.fetch(
                f'SELECT * FROM (SELECT * FROM "{a}"."{table}" EXCEPT ALL SELECT * FROM "{b}"."{table}") d '
                f"ORDER BY {order} LIMIT {int(limit)}"
            )
            out.extend(RowDifference(table, side, dict(r)) for r in rows)
    return out


async def diff(
    database_url: str, projection: Projection, live_schema: str, scratch_schema: str, *, limit: int = 1000
) -> list[RowDifference]:
    """Rows that differ between the live and the rebuilt tables, both ways."""
    conn = await asyncpg.connect(database_url)
    try:
        return await diff_on(conn, projection, live_schema, scratch_schema, limit=limit)
    finally:
        await conn.close()
