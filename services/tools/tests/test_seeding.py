"""Seeding against the real servers: complete, idempotent, resumable, and fast enough."""

from __future__ import annotations

from labs_core.eventlog import EventLog
from labs_core.ids import derived_id
from labs_core.projector import diff, rebuild
from services.tools.domain.catalogue import generate
from services.tools.projections.listings import ListingsProjection
from services.tools.tests.conftest import Seeded, open_catalogue

ANCHOR = 1_750_000_000 * 1_000_000_000


async def test_seeded_catalogue_is_complete(seeded: Seeded, pg) -> None:
    plan = generate(4242, 2000, seeded.anchor_ns)
    assert seeded.report.listings == 2000
    assert seeded.report.appended == sum(len(s.events) for s in plan) == len(seeded.events)
    schema = seeded.cat.schema
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings') == 2000
    prices = sum(1 for s in plan for e in s.events if type(e).__name__ != "ListingStatusChanged")
    assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".listing_prices') == prices
    # Spread over the past 90 days, mostly active, every category present.
    span = await pg.fetchrow(
        f"SELECT min(created_at) AS lo, max(updated_at) AS hi, count(DISTINCT category) AS cats, "
        f"avg((status = 'active')::int) AS active FROM \"{schema}\".listings"
    )
    assert (span["hi"] - span["lo"]).days >= 85
    assert span["cats"] == 10
    assert 0.75 < span["active"] < 0.95


async def test_seeding_leaves_planner_statistics(seeded: Seeded, pg) -> None:
    # ANALYZE ran once the catalogue was readable: the planner knows the tables from the first query.
    rows = await pg.fetch(
        "SELECT relname, reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = $1 AND relname IN ('listings', 'listing_prices') ORDER BY relname",
        seeded.cat.schema,
    )
    assert [r["relname"] for r in rows] == ["listing_prices", "listings"]
    assert rows[1]["reltuples"] == 2000
    assert rows[0]["reltuples"] > 2000
    analyzed = await pg.fetchval(
        "SELECT count(*) FROM pg_stats WHERE schemaname = $1 AND tablename = 'listings'", seeded.cat.schema
    )
    assert analyzed > 0


async def test_second_run_appends_nothing(eventlog: EventLog, database_url: str, pg, schema: str) -> None:
    cat = await open_catalogue(eventlog, database_url, schema, size=150)
    try:
        first = await cat.seeder.run(anchor_ns=ANCHOR)
        assert first.appended > 150
        last = await eventlog.last_sequence()
        second = await cat.seeder.run(anchor_ns=ANCHOR + 3_600 * 10**9)
        assert second.appended == 0 and second.already_present == 150
        assert await eventlog.last_sequence() == last
        count = await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings')
    finally:
        await cat.close()
    # A fresh start (new projector, same schema) appends nothing either.
    again = await open_catalogue(eventlog, database_url, schema, size=150)
    try:
        third = await again.seeder.run(anchor_ns=ANCHOR)
        assert third.appended == 0
        assert await eventlog.last_sequence() == last
        assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings') == count == 150
    finally:
        await again.close()
    # The read model is exactly what a rebuild from the log gives.
    proj = ListingsProjection(eventlog.prefix)
    await rebuild(eventlog, database_url, proj, schema + "_rb")
    assert await diff(database_url, proj, schema, schema + "_rb") == []
    await pg.execute(f'DROP SCHEMA "{schema}_rb" CASCADE')


async def test_interrupted_seed_resumes_without_duplicates(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    cat = await open_catalogue(eventlog, database_url, schema, seed=7, size=40)
    try:
        plan = generate(7, 40, ANCHOR)
        multi = next(s for s in plan if len(s.events) >= 3)
        # A crash after the first event of one listing.
        await cat.store.append(
            multi.events[0],
            msg_id=derived_id("catalogue", "7", str(multi.index), "0"),
            expected_sequence=0,
        )
        report = await cat.seeder.run(anchor_ns=ANCHOR)
        assert report.appended == sum(len(s.events) for s in plan) - 1
        history = await cat.store.history(multi.listing_id)
        assert len(history) == len(multi.events)
        assert history[0].event.WhichOneof("payload") == "listing_created"
        # A bigger catalogue later extends the smaller one: only the new listings are appended.
        cat.seeder.size = 60
        grown = await cat.seeder.run(anchor_ns=ANCHOR)
        assert grown.already_present == 40
        assert grown.appended == sum(len(s.events) for s in generate(7, 60, ANCHOR)[40:])
    finally:
        await cat.close()


async def test_seeding_in_uneven_chunks_resumes_and_counts(
    eventlog: EventLog, database_url: str, pg, schema: str
) -> None:
    # The plan is generated and checked chunk by chunk (never held whole): a size that is not a
    # multiple of the chunk, and a crash inside a later chunk, still give exact counts.
    cat = await open_catalogue(eventlog, database_url, schema, seed=9, size=95)
    try:
        cat.seeder.chunk = 30
        plan = generate(9, 95, ANCHOR)
        crashed = next(s for s in plan[70:] if len(s.events) >= 2)
        await cat.store.append(
            crashed.events[0],
            msg_id=derived_id("catalogue", "9", str(crashed.index), "0"),
            expected_sequence=0,
        )
        report = await cat.seeder.run(anchor_ns=ANCHOR)
        assert report.listings == 95 and report.already_present == 0
        assert report.appended == sum(len(s.events) for s in plan) - 1
        assert len(await cat.store.history(crashed.listing_id)) == len(crashed.events)
        assert await pg.fetchval(f'SELECT count(*) FROM "{schema}".listings') == 95
        cat.seeder.chunk = 7
        again = await cat.seeder.run(anchor_ns=ANCHOR)
        assert (again.listings, again.appended, again.already_present) == (95, 0, 95)
    finally:
        await cat.close()
