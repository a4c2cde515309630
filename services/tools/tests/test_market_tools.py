"""get_listings and analyze_market_price on the seeded catalogue, checked against the raw events."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pytest

from labs_core.errors import InvalidArgument
from services.tools.domain.registry import ToolContext
from services.tools.tests.conftest import Seeded

MARKET = ToolContext(agent_type="MARKET", execution_id="exec-1", role="operator")


@dataclass
class Folded:
    """A listing's state rebuilt in Python from the events."""

    id: str
    seller: str
    title: str
    description: str
    category: str
    price_cents: int
    status: str
    created_us: int
    points: list[tuple[int, int]] = field(default_factory=list)  # (microseconds, cents)


def fold(seeded: Seeded) -> dict[str, Folded]:
    out: dict[str, Folded] = {}
    for se in seeded.events:
        ev = se.event
        us = (ev.occurred_at.seconds * 1_000_000_000 + ev.occurred_at.nanos) // 1000
        kind = ev.WhichOneof("payload")
        if kind == "listing_created":
            c = ev.listing_created
            f = out[c.listing_id] = Folded(
                c.listing_id, c.seller_id, c.title, c.description, c.category, c.price_cents, c.status, us
            )
            f.points.append((us, c.price_cents))
        elif kind == "listing_price_changed":
            p = ev.listing_price_changed
            out[p.listing_id].price_cents = p.new_price_cents
            out[p.listing_id].points.append((us, p.new_price_cents))
        elif kind == "listing_status_changed":
            out[ev.listing_status_changed.listing_id].status = ev.listing_status_changed.new_status
    return out


async def invoke(
    seeded: Seeded, name: str, args: dict[str, Any], ctx: ToolContext = MARKET
) -> dict[str, Any]:
    return (await seeded.cat.invoker.invoke(name, args, ctx)).result


async def all_pages(seeded: Seeded, args: dict[str, Any], limit: int) -> tuple[list[str], int]:
    ids: list[str] = []
    token = ""
    total = -1
    for _ in range(1000):
        page = await invoke(
            seeded, "get_listings", {**args, "limit": limit, **({"page_token": token} if token else {})}
        )
        assert len(page["listings"]) <= limit
        total = page["total"] if total < 0 else total
        assert page["total"] == total
        ids += [x["id"] for x in page["listings"]]
        token = page.get("next_page_token", "")
        if not token:
            return ids, total
    raise AssertionError("pagination did not end")


async def test_filters_sort_and_token_pagination(seeded: Seeded) -> None:
    data = fold(seeded)
    args = {
        "category": "electronics",
        "status": "active",
        "min_price": 100,
        "max_price": 800.5,
        "sort": "price_asc",
    }
    ids, total = await all_pages(seeded, args, limit=37)
    expected = sorted(
        (
            f
            for f in data.values()
            if f.category == "electronics" and f.status == "active" and 10_000 <= f.price_cents <= 80_050
        ),
        key=lambda f: (f.price_cents, f.id),
    )
    assert total == len(expected) > 37 * 2
    assert ids == [f.id for f in expected]  # every row once, in order, none lost


@pytest.mark.parametrize(
    ("sort", "key", "reverse"),
    [
        ("price_desc", lambda f: (f.price_cents, f.id), True),
        ("newest", lambda f: (f.created_us, f.id), True),
        ("oldest", lambda f: (f.created_us, f.id), False),
    ],
)
async def test_every_sort_pages_through_every_row(seeded: Seeded, sort: str, key: Any, reverse: bool) -> None:
    data = fold(seeded)
    ids, total = await all_pages(seeded, {"category": "furniture", "sort": sort}, limit=100)
    expected = sorted((f for f in data.values() if f.category == "furniture"), key=key, reverse=reverse)
    assert total == len(expected)
    assert ids == [f.id for f in expected]


async def test_offset_pagination_matches_token_pagination(seeded: Seeded) -> None:
    args = {"category": "books", "sort": "newest"}
    by_token, total = await all_pages(seeded, args, limit=25)
    by_offset: list[str] = []
    for offset in range(0, total, 25):
        page = await invoke(seeded, "get_listings", {**args, "limit": 25, "offset": offset})
        by_offset += [x["id"] for x in page["listings"]]
    assert by_offset == by_token
    assert len(set(by_token)) == total


async def test_text_and_seller_filters(seeded: Seeded) -> None:
    data = fold(seeded)
    page = await invoke(seeded, "get_listings", {"query": "Sony", "limit": 100})
    sony = [f for f in data.values() if "sony" in (f.title + " " + f.description).lower()]
    assert page["total"] == len(sony) > 0
    assert all("sony" in (x["title"] + x["description"]).lower() for x in page["listings"])
    seller = max({f.seller for f in data.values()}, key=lambda s: sum(f.seller == s for f in data.values()))
    page = await invoke(seeded, "get_listings", {"seller": seller, "limit": 100, "sort": "oldest"})
    assert page["total"] == sum(f.seller == seller for f in data.values())
    first = page["listings"][0]
    assert first["seller"] == seller and first["price"] == first["price_cents"] / 100
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None


async def test_page_token_is_bound_to_its_filters(seeded: Seeded) -> None:
    page = await invoke(seeded, "get_listings", {"category": "toys", "limit": 5})
    with pytest.raises(InvalidArgument) as e:
        await invoke(
            seeded, "get_listings", {"category": "music", "limit": 5, "page_token": page["next_page_token"]}
        )
    assert e.value.field == "arguments.page_token"
    with pytest.raises(InvalidArgument) as e2:
        await invoke(seeded, "get_listings", {"min_price": 50, "max_price": 10})
    assert e2.value.field == "arguments.max_price"


def percentile(values: list[float], q: float) -> float:
    """percentile_cont: linear interpolation between the closest ranks."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo, hi = math.floor(pos), math.ceil(pos)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


@pytest.mark.parametrize(
    ("category", "window", "status"),
    [("electronics", 30, None), ("automotive", 60, "active"), ("books", 90, None), ("sports", 7, None)],
)
async def test_market_price_matches_python(
    seeded: Seeded, category: str, window: int, status: str | None
) -> None:
    args: dict[str, Any] = {"category": category, "window_days": window}
    if status:
        args["status"] = status
    r = await invoke(seeded, "analyze_market_price", args)
    since = datetime.fromisoformat(r["since"])
    until = datetime.fromisoformat(r["until"])
    assert (until - since).days == window
    since_us = int(since.timestamp() * 1_000_000)
    until_us = int(until.timestamp() * 1_000_000)
    pool = [
        f for f in fold(seeded).values() if f.category == category and (status is None or f.status == status)
    ]
    listed = [f.price_cents / 100 for f in pool if since_us <= f.created_us <= until_us]
    assert r["count"] == len(listed) > 0
    assert r["mean"] == pytest.approx(sum(listed) / len(listed), abs=1e-3)
    assert r["median"] == pytest.approx(percentile(listed, 0.5), abs=1e-3)
    assert r["p10"] == pytest.approx(percentile(listed, 0.1), abs=1e-3)
    assert r["p90"] == pytest.approx(percentile(listed, 0.9), abs=1e-3)
    assert (r["min"], r["max"]) == (min(listed), max(listed))

    # Trend: least squares within listings over the price points dated in the window.
    sxy = sxx = 0.0
    points = 0
    total_price = 0.0
    for f in pool:
        pts = [(us / 86_400e6, c / 100) for us, c in f.points if since_us <= us <= until_us]
        points += len(pts)
        total_price += sum(p for _, p in pts)
        if len(pts) > 1:
            mx = sum(x for x, _ in pts) / len(pts)
            my = sum(y for _, y in pts) / len(pts)
            sxy += sum((x - mx) * (y - my) for x, y in pts)
            sxx += sum((x - mx) ** 2 for x, _ in pts)
    t = r["trend"]
    assert t["points"] == points
    slope = sxy / sxx
    assert t["slope_per_day"] == pytest.approx(slope, rel=1e-4, abs=1e-6)
    pct = slope / (total_price / points) * 100
    assert t["pct_per_day"] == pytest.approx(pct, rel=1e-4, abs=1e-6)
    expected_direction = "flat" if abs(pct) < 0.1 else ("rising" if pct > 0 else "falling")
    assert t["direction"] == expected_direction


async def test_seeded_drifts_show_as_trends(seeded: Seeded) -> None:
    # The catalogue's drifts: electronics -0.4 %/day, automotive +0.4 %/day, books 0.
    falling = await invoke(seeded, "analyze_market_price", {"category": "electronics", "window_days": 90})
    rising = await invoke(seeded, "analyze_market_price", {"category": "automotive", "window_days": 90})
    flat = await invoke(seeded, "analyze_market_price", {"category": "books", "window_days": 90})
    assert falling["trend"]["direction"] == "falling"
    assert rising["trend"]["direction"] == "rising"
    assert flat["trend"]["direction"] == "flat"


async def test_empty_window_reports_nulls(seeded: Seeded) -> None:
    r = await invoke(
        seeded, "analyze_market_price", {"category": "garden", "window_days": 1, "status": "archived"}
    )
    assert r["count"] == 0
    assert [r[k] for k in ("mean", "median", "p10", "p90", "min", "max")] == [None] * 6
    # Older listings repriced within the window still count towards the trend.
    assert r["trend"]["points"] >= 0


async def test_create_listing_is_idempotent_and_readable_at_once(seeded: Seeded) -> None:
    ctx = ToolContext(
        agent_type="MARKET", execution_id="exec-9", idempotency_key="exec-9:step-1", role="operator"
    )
    args = {
        "title": "Zeppelin Model Kit",
        "description": "Rare 1:200 scale zeppelin kit.",
        "category": "toys",
        "price": 123.45,
        "attributes": {"brand": "Revell"},
    }
    first = await invoke(seeded, "create_listing", args, ctx)
    assert first["created"] is True
    assert first["listing"]["price_cents"] == 12345 and first["listing"]["seller"] == "agent-market"
    found = await invoke(seeded, "get_listings", {"query": "zeppelin"})
    assert [x["id"] for x in found["listings"]] == [first["listing"]["id"]]
    again = await invoke(seeded, "create_listing", args, ctx)
    assert again["created"] is False and again["listing"]["id"] == first["listing"]["id"]
    found = await invoke(seeded, "get_listings", {"query": "zeppelin"})
    assert found["total"] == 1


async def test_fields_returns_only_the_listing_fields_asked_for(seeded: Seeded) -> None:
    args = {"category": "toys", "sort": "price_asc", "limit": 7}
    full = await invoke(seeded, "get_listings", args)
    sparse = await invoke(seeded, "get_listings", {**args, "fields": ["title", "id", "price", "id"]})
    assert sparse["total"] == full["total"]
    assert sparse["next_page_token"] == full["next_page_token"]
    assert sparse["listings"] == [
        {"title": x["title"], "id": x["id"], "price": x["price"]} for x in full["listings"]
    ]
    assert [list(x) for x in sparse["listings"]] == [["title", "id", "price"]] * 7
    # The next page continues the same way with or without `fields`.
    nxt = await invoke(
        seeded, "get_listings", {**args, "fields": ["id"], "page_token": sparse["next_page_token"]}
    )
    nxt_full = await invoke(seeded, "get_listings", {**args, "page_token": full["next_page_token"]})
    assert [x["id"] for x in nxt["listings"]] == [x["id"] for x in nxt_full["listings"]]


async def test_fields_must_be_listing_fields(seeded: Seeded) -> None:
    with pytest.raises(InvalidArgument) as e:
        await invoke(seeded, "get_listings", {"fields": ["id", "secret", "price"]})
    assert [v[0] for v in e.value.violations] == ["arguments.fields[1]"]
    with pytest.raises(InvalidArgument) as e:
        await invoke(seeded, "get_listings", {"fields": []})
    assert [v[0] for v in e.value.violations] == ["arguments.fields"]


async def test_remembered_answers_follow_new_listings_at_once(seeded: Seeded) -> None:
    """Searches and market figures are memoised against the projection's checkpoint: asked
    twice, the tool runs once (the invoker gives its answer again, or the read model's cache
    does); a listing created in between is in the next answer."""
    listings = seeded.cat.listings
    inv = seeded.cat.invoker
    args = {"category": "books", "limit": 5}
    before = await invoke(seeded, "get_listings", args)
    stats_before = await invoke(seeded, "analyze_market_price", {"category": "books"})
    misses = listings.cache.misses
    again = await inv.invoke("get_listings", args, MARKET)
    assert again.result == before and again.memoised
    stats_again = await inv.invoke("analyze_market_price", {"category": "books"}, MARKET)
    assert stats_again.result == stats_before and stats_again.memoised
    assert listings.cache.misses == misses  # no query either

    ctx = ToolContext(
        agent_type="MARKET", execution_id="exec-c", idempotency_key="exec-c:step-1", role="operator"
    )
    made = await invoke(
        seeded, "create_listing", {"title": "Cache Busting Primer", "category": "books", "price": 1.0}, ctx
    )
    after = await invoke(seeded, "get_listings", args)
    assert after["total"] == before["total"] + 1
    assert after["listings"][0]["id"] == made["listing"]["id"]  # newest first
    stats_after = await invoke(seeded, "analyze_market_price", {"category": "books"})
    assert stats_after["count"] == stats_before["count"] + 1
    assert stats_after["min"] == 1.0
