"""Queries on the listings read model (plain SQL; percentiles and slopes computed in Postgres)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from services.tools.domain.errors import ReadModelUnavailable
from services.tools.domain.listings import (
    Cursor,
    Listing,
    ListingPage,
    ListingQuery,
    MarketStats,
    PriceTrend,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# sort -> (key column, direction, row comparison for "after the cursor")
_ORDER = {
    "price_asc": ("price_cents", "ASC", ">"),
    "price_desc": ("price_cents", "DESC", "<"),
    "newest": ("created_at", "DESC", "<"),
    "oldest": ("created_at", "ASC", ">"),
}

_COLUMNS = "id, seller, title, description, category, price_cents, currency, status, attributes, created_at, updated_at"


def _micros(at: datetime) -> int:
    return (at - _EPOCH) // timedelta(microseconds=1)


def _listing(r: asyncpg.Record) -> Listing:
    attrs = r["attributes"]
    return Listing(
        listing_id=r["id"],
        seller_id=r["seller"],
        title=r["title"],
        description=r["description"],
        category=r["category"],
        price_cents=r["price_cents"],
        currency=r["currency"],
        status=r["status"],
        attributes=json.loads(attrs) if isinstance(attrs, str) else dict(attrs),
        created_at=r["created_at"],
        updated_at=r["updated_at"],
    )


def _where(q: ListingQuery, args: list[Any]) -> str:
    """The WHERE clause of a search; appends its parameters to `args`."""
    conds: list[str] = []

    def param(v: Any) -> str:
        args.append(v)
        return f"${len(args)}"

    if q.category:
        conds.append(f"category = {param(q.category)}")
    if q.status:
        conds.append(f"status = {param(q.status)}")
    if q.seller_id:
        conds.append(f"seller = {param(q.seller_id)}")
    if q.min_price_cents is not None:
        conds.append(f"price_cents >= {param(q.min_price_cents)}")
    if q.max_price_cents is not None:
        conds.append(f"price_cents <= {param(q.max_price_cents)}")
    if q.text:
        like = "%" + q.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ts = param(q.text)
        lk = param(like)
        conds.append(
            f"(to_tsvector('english', title || ' ' || description) @@ websearch_to_tsquery('english', {ts}) "
            f"OR title ILIKE {lk} OR description ILIKE {lk})"
        )
    return " AND ".join(conds) if conds else "TRUE"


# analyze_market_price. Both read through indexes (migration 0004): the figures an index-only range
# scan of listings (category, currency, created_at), the trend one of listing_prices (category,
# currency, at), which carries each listing's category and currency. The status filter, when given,
# is its own statement (a generic plan of "$5 IS NULL OR status = $5" could not use it).
_STATS = """
SELECT count(*) AS n,
       avg(price_cents)::float8 AS mean,
       percentile_cont(ARRAY[0.1, 0.5, 0.9]) WITHIN GROUP (ORDER BY price_cents) AS pct,
       min(price_cents) AS lo, max(price_cents) AS hi
FROM listings
WHERE category = $1 AND currency = $2 AND created_at >= $3 AND created_at <= $4
"""
_STATS_SQL = _STATS
_STATS_STATUS_SQL = _STATS + " AND status = $5"
# The within-listing slope is sum(Sxy_i) / sum(Sxx_i) over the listings i, each listing's sums
# centred on its own means (Sxy_i = sum(xy) - sum(x)sum(y)/k_i): one hash aggregate per listing,
# no sort or window. Days are counted from the window's start, so the sums stay small and exact
# enough; a listing with one point adds exactly 0 to both sums.
_TREND = """
WITH per_listing AS (
  SELECT count(*) AS k, sum(x) AS sx, sum(y) AS sy, sum(x * x) AS sxx, sum(x * y) AS sxy
  FROM (
    SELECT p.listing_id, p.price_cents::float8 / 100 AS y,
           extract(epoch FROM p.at - $3)::float8 / 86400 AS x
    FROM listing_prices p
    WHERE p.category = $1 AND p.currency = $2 AND p.at >= $3 AND p.at <= $4 {status}
  ) AS points
  GROUP BY listing_id
), pooled AS (
  SELECT sum(sxy - sx * sy / k) AS sxy, sum(sxx - sx * sx / k) AS sxx, sum(sy) AS sy,
         sum(k) AS n, count(*) FILTER (WHERE k > 1) AS moving
  FROM per_listing
)
SELECT CASE WHEN sxx > 1e-9 THEN sxy / sxx END AS slope, sy / n AS mean_price,
       coalesce(n, 0) AS n, moving
FROM pooled
"""
_TREND_SQL = _TREND.format(status="")
_TREND_STATUS_SQL = _TREND.format(
    status="AND EXISTS (SELECT 1 FROM listings l WHERE l.id = p.listing_id AND l.status = $5)"
)


class ListingReadModel:
    """Reads listings from the schema the pool's search_path points at."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @asynccontextmanager
    async def _conn(self) -> AsyncIterator[asyncpg.Connection]:
        try:
            async with self.pool.acquire() as conn:
                yield conn
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as e:
            raise ReadModelUnavailable(f"listings read model: {type(e).__name__}: {e}") from e

    async def search(
        self, q: ListingQuery, *, limit: int, offset: int = 0, after: Cursor | None = None
    ) -> ListingPage:
        """A page of matching listings in the query's order, the total, and the next page's cursor."""
        column, direction, cmp = _ORDER[q.sort]
        args: list[Any] = []
        where = _where(q, args)
        count_sql = f"SELECT count(*) FROM listings WHERE {where}"
        count_args = list(args)
        page_where = where
        if after is not None:
            key: Any = after.key if column == "price_cents" else _EPOCH + timedelta(microseconds=after.key)
            args += [key, after.listing_id]
            page_where += f" AND ({column}, id) {cmp} (${len(args) - 1}, ${len(args)})"
        args += [limit + 1, offset]
        page_sql = (
            f"SELECT {_COLUMNS} FROM listings WHERE {page_where} "
            f"ORDER BY {column} {direction}, id {direction} LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        )
        async with self._conn() as conn:
            total = await conn.fetchval(count_sql, *count_args)
            rows = await conn.fetch(page_sql, *args)
        listings = [_listing(r) for r in rows[:limit]]
        next_cursor = None
        if len(rows) > limit and listings:
            last = listings[-1]
            k = last.price_cents if column == "price_cents" else _micros(last.created_at)
            next_cursor = Cursor(k, last.listing_id)
        return ListingPage(listings=listings, total=int(total), next_cursor=next_cursor)

    async def analyze(self) -> None:
        """Refresh the planner's statistics of the listings tables (after seeding or a bulk change):
        fresh tables have none until autovacuum gets to them, and the plans chosen meanwhile are
        up to 50x slower. VACUUM also sets the visibility map, so the market analysis's reads are
        index-only. Neither blocks reads or writes; each runs outside a transaction block."""
        async with self._conn() as conn:
            await conn.execute("VACUUM (ANALYZE) listings")
            await conn.execute("VACUUM (ANALYZE) listing_prices")

    async def get(self, listing_id: str) -> Listing | None:
        """One listing, if the read model has it."""
        async with self._conn() as conn:
            r = await conn.fetchrow(f"SELECT {_COLUMNS} FROM listings WHERE id = $1", listing_id)
        return None if r is None else _listing(r)

    async def versions(self, listing_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        """listing id -> (events applied, last sequence) for those the read model has."""
        async with self._conn() as conn:
            rows = await conn.fetch(
                "SELECT id, version, last_sequence FROM listings WHERE id = ANY($1::text[])",
                list(listing_ids),
            )
        return {r["id"]: (r["version"], r["last_sequence"]) for r in rows}

    async def market_stats(
        self, *, category: str, since: datetime, until: datetime, status: str | None, currency: str
    ) -> MarketStats:
        """Price figures of the listings listed in [since, until] and the trend of their prices.

        Figures use each listing's current price. The trend is the least-squares slope of price
        against time over the price points dated in the window, within listings (each listing's
        points centred on its own means), so the mix of cheap and dear listings is not mistaken
        for a trend; listings with one point add nothing to the slope.
        """
        args = (
            (category, currency, since, until)
            if status is None
            else (category, currency, since, until, status)
        )
        async with self._conn() as conn:
            s = await conn.fetchrow(_STATS_SQL if status is None else _STATS_STATUS_SQL, *args)
            t = await conn.fetchrow(_TREND_SQL if status is None else _TREND_STATUS_SQL, *args)
        n = int(s["n"])
        pct = s["pct"] or [None, None, None]
        slope = t["slope"]
        mean_price = t["mean_price"]
        pct_per_day = slope / mean_price * 100 if slope is not None and mean_price else None

        def units(c: float | None) -> float | None:
            return None if c is None else round(float(c) / 100, 4)

        return MarketStats(
            since=since,
            until=until,
            count=n,
            mean=units(s["mean"]),
            median=units(pct[1]),
            p10=units(pct[0]),
            p90=units(pct[2]),
            min=units(s["lo"]),
            max=units(s["hi"]),
            trend=PriceTrend(
                slope_per_day=None if slope is None else float(slope),
                pct_per_day=pct_per_day,
                points=int(t["n"]),
                listings=int(t["moving"]),
            ),
        )
