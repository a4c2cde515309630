"""The listings read model: current listings and their price history, from listing events.

Apply is deterministic (times come from the events) and works per batch: the batch is folded in
memory per listing, then written with three set-based statements (insert, update, price rows).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection, unnest_columns
from services.tools.adapters.listing_events import from_envelope, listing_subjects
from services.tools.domain.events import (
    ListingCreated,
    ListingDeleted,
    ListingPriceChanged,
    ListingStatusChanged,
)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns_to_datetime(ns: int) -> datetime:
    """Nanoseconds since the epoch as an aware datetime (microsecond precision, exact)."""
    return _EPOCH + timedelta(microseconds=ns // 1000)


@dataclass
class _Row:
    """A listing touched by the batch: its new state and how many events touched it."""

    new: ListingCreated | None
    price_cents: int | None = None
    status: str | None = None
    updated_ns: int = 0
    events: int = 0
    last_sequence: int = 0
    deleted: bool = False
    prices: list[tuple[int, int, int]] = field(default_factory=list)  # (sequence, cents, ns)


class ListingsProjection(Projection):
    """listings + listing_prices from ListingCreated / PriceChanged / StatusChanged."""

    name = "tools.listings"
    tables = {"listings": ["id"], "listing_prices": ["listing_id", "sequence"]}
    migrations = MIGRATIONS

    def __init__(self, prefix: str, schema: str = "tools") -> None:
        self.subjects = listing_subjects(prefix)
        self.schema = schema

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        """Fold the batch per listing, then write it set-wise."""
        rows: dict[str, _Row] = {}
        for stored in events:
            ev = from_envelope(stored.event)
            if ev is None:
                continue
            row = rows.get(ev.listing_id)
            if isinstance(ev, ListingCreated):
                if row is not None:
                    continue  # a second creation of one listing changes nothing
                row = rows[ev.listing_id] = _Row(
                    new=ev, price_cents=ev.listing.price_cents, status=ev.listing.status
                )
                row.prices.append((stored.sequence, ev.listing.price_cents, ev.occurred_ns))
            else:
                if row is None:
                    row = rows[ev.listing_id] = _Row(new=None)
                if isinstance(ev, ListingPriceChanged):
                    row.price_cents = ev.new_price_cents
                    row.prices.append((stored.sequence, ev.new_price_cents, ev.occurred_ns))
                elif isinstance(ev, ListingStatusChanged):
                    row.status = ev.new_status
                elif isinstance(ev, ListingDeleted):
                    row.deleted = True
            row.events += 1
            row.updated_ns = ev.occurred_ns
            row.last_sequence = stored.sequence
        if not rows:
            return

        created = [(lid, r) for lid, r in rows.items() if r.new is not None]
        if created:
            await conn.execute(
                """
                INSERT INTO listings (id, seller, title, description, category, price_cents, currency, status,
                                      attributes, created_at, updated_at, version, last_sequence)
                SELECT u.id, u.seller, u.title, u.description, u.category, u.price_cents, u.currency, u.status,
                       u.attributes::jsonb, u.created_at, u.updated_at, u.version, u.last_sequence
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[], $7::text[],
                            $8::text[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::int[], $13::bigint[])
                     AS u(id, seller, title, description, category, price_cents, currency, status, attributes,
                          created_at, updated_at, version, last_sequence)
                ON CONFLICT (id) DO NOTHING
                """,
                *unnest_columns(
                    [
                        (
                            lid,
                            r.new.listing.seller_id,
                            r.new.listing.title,
                            r.new.listing.description,
                            r.new.listing.category,
                            r.price_cents,
                            r.new.listing.currency,
                            r.status,
                            json.dumps(dict(sorted(r.new.listing.attributes.items())), ensure_ascii=False),
                            ns_to_datetime(r.new.occurred_ns),
                            ns_to_datetime(r.updated_ns),
                            r.events,
                            r.last_sequence,
                        )
                        for lid, r in created
                        if r.new is not None
                    ],
                    13,
                ),
            )
        updated = [(lid, r) for lid, r in rows.items() if r.new is None]
        if updated:
            await conn.execute(
                """
                UPDATE listings l SET
                  price_cents = COALESCE(u.price_cents, l.price_cents),
                  status = COALESCE(u.status, l.status),
                  updated_at = u.updated_at,
                  version = l.version + u.events,
                  last_sequence = u.last_sequence
                FROM unnest($1::text[], $2::bigint[], $3::text[], $4::timestamptz[], $5::int[], $6::bigint[])
                     AS u(id, price_cents, status, updated_at, events, last_sequence)
                WHERE l.id = u.id
                """,
                *unnest_columns(
                    [
                        (
                            lid,
                            r.price_cents,
                            r.status,
                            ns_to_datetime(r.updated_ns),
                            r.events,
                            r.last_sequence,
                        )
                        for lid, r in updated
                    ],
                    6,
                ),
            )
        prices = [
            (lid, seq, cents, ns_to_datetime(ns)) for lid, r in rows.items() for seq, cents, ns in r.prices
        ]
        if prices:
            # Only for listings that exist: a price change of an unknown listing leaves no trace. Each row
            # carries its listing's category and currency (fixed at creation) for the market analysis.
            await conn.execute(
                """
                INSERT INTO listing_prices (listing_id, sequence, price_cents, at, category, currency)
                SELECT u.listing_id, u.sequence, u.price_cents, u.at, l.category, l.currency
                FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::timestamptz[])
                     AS u(listing_id, sequence, price_cents, at)
                JOIN listings l ON l.id = u.listing_id
                ON CONFLICT DO NOTHING
                """,
                *unnest_columns(prices, 4),
            )
        deleted = [lid for lid, r in rows.items() if r.deleted]
        if deleted:
            await conn.execute("DELETE FROM listing_prices WHERE listing_id = ANY($1::text[])", deleted)
            await conn.execute("DELETE FROM listings WHERE id = ANY($1::text[])", deleted)
