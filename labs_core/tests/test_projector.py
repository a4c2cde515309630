"""The projector against real servers: exactly-once effect across a kill, rebuild and diff."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from labs_core.eventlog import EventLog, StoredEvent
from labs_core.migrations import migrate
from labs_core.projector import Projector, diff, rebuild, rebuild_many
from labs_core.tests.sample_projection import ListingTitles
from labs_core.tests.test_eventlog import created, price


async def _wait_checkpoint(
    pg: asyncpg.Connection, schema: str, name: str, seq: int, timeout: float = 15
) -> None:
    async with asyncio.timeout(timeout):
        while True:
            v = await pg.fetchval(
                f'SELECT last_sequence FROM "{schema}".projection_checkpoints WHERE projection = $1', name
            )
            if v is not None and v >= seq:
                return
            await asyncio.sleep(0.05)


async def test_projection_applies_and_notifies(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    proj = ListingTitles(eventlog.prefix)
    await migrate(pg, schema, proj.migrations)
    projector = Projector(eventlog, database_url, schema, proj)
    task = asyncio.create_task(projector.run())
    try:
        r = await eventlog.append(created("p1", "Chair", 5000))
        assert await projector.wait_for(r.sequence, timeout=10)
        row = await pg.fetchrow(f'SELECT * FROM "{schema}".listings WHERE listing_id = $1', "p1")
        assert row["title"] == "Chair"
    finally:
        task.cancel()


class _CommitMode(ListingTitles):
    """ListingTitles that notes how its transactions commit."""

    seen: list[str]

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        self.seen.append(await conn.fetchval("SHOW synchronous_commit"))
        await super().apply(conn, events)


async def test_projection_commits_do_not_wait_for_the_wal_flush(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    """Rows and checkpoint commit together, so a crash can only lose whole batches, which the
    projector applies again from the log: its commits need not wait for the WAL flush."""
    proj = _CommitMode(eventlog.prefix)
    proj.seen = []
    await migrate(pg, schema, proj.migrations)
    # The test server does not flush at all: the projector's connection starts as a durable one's.
    sep = "&" if "?" in database_url else "?"
    projector = Projector(eventlog, f"{database_url}{sep}synchronous_commit=on", schema, proj)
    task = asyncio.create_task(projector.run())
    try:
        r = await eventlog.append(created("c1", "Lamp", 900))
        assert await projector.wait_for(r.sequence, timeout=10)
        assert proj.seen and set(proj.seen) == {"off"}
    finally:
        task.cancel()


async def test_killed_between_apply_and_commit_applies_nothing_twice(
    eventlog: EventLog, database_url: str, pg, schema: str, tmp_path: Path
) -> None:
    proj = ListingTitles(eventlog.prefix)
    await migrate(pg, schema, proj.migrations)
    for i in range(20):
        await eventlog.append(created(f"k{i}", price=100))
    for i in range(20):
        await eventlog.append(price(f"k{i}", 100, 200))
    marker = tmp_path / "marker"
    args = [
        sys.executable,
        "-m",
        "labs_core.tests.projector_child",
        eventlog.url,
        eventlog.stream,
        eventlog.prefix,
        database_url,
        schema,
    ]
    env = {**os.environ, "PROJECTOR_MARKER": str(marker)}
    child = subprocess.Popen([*args, "30"], env=env)
    try:
        async with asyncio.timeout(20):
            while not marker.exists():
                await asyncio.sleep(0.02)
        os.kill(child.pid, signal.SIGKILL)  # applied inside the transaction, not committed
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings') == 0
    # Restart without the pause: everything is applied exactly once.
    child2 = subprocess.Popen([*args, "0"])
    try:
        await _wait_checkpoint(pg, schema, proj.name, 40)
    finally:
        child2.send_signal(signal.SIGTERM)
        child2.wait(10)
    rows = await pg.fetch(f'SELECT updates, price_cents FROM "{schema}".listings')
    assert len(rows) == 20
    assert all(r["updates"] == 2 and r["price_cents"] == 200 for r in rows)


async def test_rebuild_equals_live_and_diff_reports_tampering(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    proj = ListingTitles(eventlog.prefix)
    await migrate(pg, schema, proj.migrations)
    projector = Projector(eventlog, database_url, schema, proj, batch_size=7)
    task = asyncio.create_task(projector.run())
    try:
        last = 0
        for i in range(30):
            last = (await eventlog.append(created(f"r{i}", price=i))).sequence
            if i % 3 == 0:
                last = (await eventlog.append(price(f"r{i}", i, i + 1))).sequence
        assert await projector.wait_for(last, timeout=10)
    finally:
        task.cancel()
    scratch = schema + "_rb"
    applied = await rebuild(eventlog, database_url, proj, scratch)
    assert applied == 40
    assert await diff(database_url, proj, schema, scratch) == []
    await pg.execute(f'UPDATE "{schema}".listings SET title = $1 WHERE listing_id = $2', "Tampered", "r7")
    d = await diff(database_url, proj, schema, scratch)
    assert {(x.table, x.side, x.row["listing_id"]) for x in d} == {
        ("listings", "live only", "r7"),
        ("listings", "rebuilt only", "r7"),
    }
    assert [x.row["title"] for x in d if x.side == "live only"] == ["Tampered"]


async def test_second_instance_stays_standby(eventlog: EventLog, database_url: str, pg, schema: str) -> None:
    proj = ListingTitles(eventlog.prefix)
    await migrate(pg, schema, proj.migrations)
    a = Projector(eventlog, database_url, schema, proj)
    b = Projector(eventlog, database_url, schema, proj, standby_poll_s=0.05)
    ta = asyncio.create_task(a.run())
    await asyncio.sleep(0.3)
    tb = asyncio.create_task(b.run())
    try:
        r = await eventlog.append(created("sb1"))
        assert await a.wait_for(r.sequence, 10)
        assert await b.wait_for(r.sequence, 10)  # learns the checkpoint from the table
        assert a.active and not b.active
    finally:
        ta.cancel()
        tb.cancel()


async def test_a_lingering_projection_batches_but_a_waiter_does_not_wait_for_the_linger(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    proj = ListingTitles(eventlog.prefix)
    proj.linger_s = 3.0
    await migrate(pg, schema, proj.migrations)
    projector = Projector(eventlog, database_url, schema, proj)
    task = asyncio.create_task(projector.run())
    try:
        first = await eventlog.append(created("lg0", "Stool", 100))
        assert await projector.wait_for(first.sequence, timeout=10)  # the projector is live now
        # Nobody waits: events within the linger are held back and applied in one batch.
        seqs = [(await eventlog.append(created(f"lg{i}", "Stool", 100))).sequence for i in (1, 2, 3)]
        await asyncio.sleep(0.5)
        assert projector.checkpoint == first.sequence
        # A waiter (read-your-writes) has the held batch handed over at once.
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await projector.wait_for(seqs[-1], timeout=2.0)
        assert loop.time() - t0 < 1.0
        n = await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings')
        assert n == 4
    finally:
        task.cancel()


class _CreationsOnly(ListingTitles):
    """The same rows from creations only: a projection reading a subset of the other's subjects."""

    name = "test.listing_creations"

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.subjects = [f"{prefix}.listing.*.created"]


class _FailsOnSecondBatch(ListingTitles):
    name = "test.fails"

    def __init__(self, prefix: str) -> None:
        super().__init__(prefix)
        self.batches = 0

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        self.batches += 1
        if self.batches == 2:
            raise RuntimeError("boom in apply")
        await super().apply(conn, events)


async def test_rebuild_many_reads_the_log_once_for_several_projections(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    import pytest

    p = eventlog.prefix
    for i in range(30):
        await eventlog.append(created(f"r{i}", price=i))
        if i % 3 == 0:
            await eventlog.append(price(f"r{i}", i, i + 100))
    titles, creations = ListingTitles(p), _CreationsOnly(p)
    a, b, c = schema + "_a", schema + "_b", schema + "_c"
    try:
        async with asyncio.timeout(30):
            assert await rebuild_many(
                eventlog, database_url, [(titles, a), (creations, b)], batch_size=7
            ) == [
                40,
                30,
            ]
            # Each equals its own rebuild (one projection, other batch size).
            assert await rebuild(eventlog, database_url, titles, c, batch_size=1000) == 40
            assert await diff(database_url, titles, c, a) == []
            rows = await pg.fetch(f'SELECT price_cents, updates FROM "{b}".listings ORDER BY listing_id')
            assert len(rows) == 30 and all(r["updates"] == 1 and r["price_cents"] < 100 for r in rows)
            changed = await pg.fetchval(f'SELECT count(*) FROM "{a}".listings WHERE price_cents >= 100')
            assert changed == 10
            # A failing projection stops the whole rebuild and its error is raised (no hang).
            with pytest.raises(RuntimeError, match="boom in apply"):
                await rebuild_many(
                    eventlog, database_url, [(titles, a), (_FailsOnSecondBatch(p), b)], batch_size=5
                )
            with pytest.raises(ValueError, match="schema of its own"):
                await rebuild_many(eventlog, database_url, [(titles, a), (creations, a)])
    finally:
        for s in (a, b, c):
            await pg.execute(f'DROP SCHEMA IF EXISTS "{s}" CASCADE')


async def test_deferred_indexes_are_built_again_on_two_connections(
    database_url: str, pg, schema: str
) -> None:
    from labs_core.projector import create_indexes, drop_secondary_indexes

    await pg.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    await pg.execute(f'CREATE TABLE "{schema}".t (id int PRIMARY KEY, a int, b text, c int UNIQUE)')
    await pg.execute(
        f'INSERT INTO "{schema}".t SELECT i, i % 7, md5(i::text), i FROM generate_series(1, 2000) i'
    )
    for ddl in (
        "CREATE INDEX t_a ON {s}.t (a)",
        "CREATE INDEX t_b ON {s}.t (b)",
        "CREATE INDEX t_ab ON {s}.t (a, b)",
    ):
        await pg.execute(ddl.format(s=f'"{schema}"'))
    async with asyncio.timeout(20):
        deferred = await drop_secondary_indexes(pg, schema, {"t": ["id"]})
        assert len(deferred) == 3  # the primary key and the unique constraint stay
        names = "SELECT indexname FROM pg_indexes WHERE schemaname = $1 ORDER BY 1"
        assert [r[0] for r in await pg.fetch(names, schema)] == ["t_c_key", "t_pkey"]
        await create_indexes(pg, database_url, deferred)
        assert [r[0] for r in await pg.fetch(names, schema)] == ["t_a", "t_ab", "t_b", "t_c_key", "t_pkey"]
