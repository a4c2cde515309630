"""batch_process_items: per-item results, partial failure, idempotency per batch key, deletion."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from labs_core.errors import AlreadyExists
from labs_core.eventlog import EventLog
from labs_core.testing import unique
from services.tools.domain.errors import ArgumentsInvalid, ToolNotPermitted
from services.tools.tests.ops_fixtures import OpsStack, ops_stack

pytestmark = pytest.mark.timeout(60)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(nats_url: str, database_url: str) -> AsyncIterator[OpsStack]:
    tag = unique("b")
    log = await EventLog.connect(nats_url, stream=tag.upper(), prefix=tag)
    await log.ensure_stream()
    try:
        async with ops_stack(log, database_url, unique("s_"), size=40) as s:
            yield s
    finally:
        await log.js.delete_stream(log.stream)
        await log.close()


async def _ids(stack: OpsStack, n: int, status: str = "active") -> list[str]:
    out = await stack.call(
        "get_listings", {"status": status, "sort": "price_asc", "limit": n}, agent="MARKET"
    )
    return [x["id"] for x in out["listings"]]


async def test_update_price_partial_failure_and_idempotent_replay(stack: OpsStack) -> None:
    ids = await _ids(stack, 3)
    items = [{"listing_id": i, "price": 1234.5 + n} for n, i in enumerate(ids)] + [
        {"listing_id": "no-such-listing", "price": 10}
    ]
    args = {"batch_key": unique("k"), "operation": "update_price", "items": items}
    first = await stack.call("batch_process_items", args, key="idem-1")
    assert (first["total"], first["succeeded"], first["failed"]) == (4, 3, 1)
    assert [r["outcome"] for r in first["results"]] == ["done", "done", "done", "error"]
    assert first["results"][3]["error"] == "listing not found" and first["replayed"] is False
    # The successful items are done and readable at once.
    rows = await stack.pool.fetch("SELECT id, price_cents FROM listings WHERE id = ANY($1::text[])", ids)
    assert {r["id"]: r["price_cents"] for r in rows} == {i: 123450 + 100 * n for n, i in enumerate(ids)}
    last = await stack.eventlog.last_sequence()
    again = await stack.call("batch_process_items", args, key="idem-2")
    assert again["replayed"] is True
    assert {k: v for k, v in again.items() if k != "replayed"} == {
        k: v for k, v in first.items() if k != "replayed"
    }
    assert await stack.eventlog.last_sequence() == last  # no second effect
    with pytest.raises(AlreadyExists):
        await stack.call("batch_process_items", {**args, "items": items[:1]}, key="idem-3")


async def test_change_status_reports_unchanged_and_bad_items(stack: OpsStack) -> None:
    ids = await _ids(stack, 2)
    out = await stack.call(
        "batch_process_items",
        {
            "batch_key": unique("k"),
            "operation": "change_status",
            "items": [{"listing_id": ids[0], "status": "sold"}, {"listing_id": ids[1], "status": "active"}],
        },
        key="x",
    )
    assert [r["outcome"] for r in out["results"]] == ["done", "unchanged"]
    assert out["results"][0]["new_status"] == "sold"
    assert await stack.pool.fetchval("SELECT status FROM listings WHERE id = $1", ids[0]) == "sold"


async def test_delete_removes_listings_and_a_deleted_listing_takes_no_change(stack: OpsStack) -> None:
    ids = await _ids(stack, 2)
    out = await stack.call(
        "batch_process_items",
        {"batch_key": unique("k"), "operation": "delete", "items": [{"listing_id": i} for i in ids]},
        key="x",
    )
    assert out["succeeded"] == 2
    assert await stack.pool.fetchval("SELECT count(*) FROM listings WHERE id = ANY($1::text[])", ids) == 0
    history = await stack.eventlog.read_aggregate("listing", ids[0])
    assert history[-1].event.WhichOneof("payload") == "listing_deleted"
    again = await stack.call(
        "batch_process_items",
        {
            "batch_key": unique("k"),
            "operation": "update_price",
            "items": [{"listing_id": ids[0], "price": 5}],
        },
        key="y",
    )
    assert again["results"][0]["error"] == "listing was deleted"


async def test_validation_names_the_field_and_only_admin_may_batch(stack: OpsStack) -> None:
    with pytest.raises(ArgumentsInvalid) as info:
        await stack.call(
            "batch_process_items",
            {"batch_key": "k", "operation": "update_price", "items": [{"listing_id": "a"}]},
            key="x",
        )
    assert "arguments.items[0]" in str(info.value) and "price" in str(info.value)
    with pytest.raises(ArgumentsInvalid) as info:
        await stack.call(
            "batch_process_items", {"batch_key": "k", "operation": "explode", "items": []}, key="x"
        )
    assert "arguments.operation" in str(info.value)
    with pytest.raises(ToolNotPermitted):
        await stack.call(
            "batch_process_items",
            {"batch_key": "k", "operation": "delete", "items": [{"listing_id": "a"}]},
            agent="MARKET",
            key="x",
        )
