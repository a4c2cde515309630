"""A small projection over listing events, used to test the projector machinery."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path

import asyncpg

from labs_core.eventlog import StoredEvent
from labs_core.projector import Projection


class ListingTitles(Projection):
    """Listing id → title, price and how many events touched it."""

    name = "test.listing_titles"
    tables = {"listings": ["listing_id"]}
    migrations = Path(__file__).parent / "fixture_migrations"

    def __init__(self, prefix: str, *, pause_after_apply: float = 0.0) -> None:
        self.subjects = [f"{prefix}.listing.>"]
        self.pause_after_apply = pause_after_apply

    async def apply(self, conn: asyncpg.Connection, events: Sequence[StoredEvent]) -> None:
        for se in events:
            ev = se.event
            kind = ev.WhichOneof("payload")
            if kind == "listing_created":
                p = ev.listing_created
                await conn.execute(
                    "INSERT INTO listings (listing_id, title, price_cents, updates, last_sequence) "
                    "VALUES ($1, $2, $3, 1, $4)",
                    p.listing_id,
                    p.title,
                    p.price_cents,
                    se.sequence,
                )
            elif kind == "listing_price_changed":
                p2 = ev.listing_price_changed
                await conn.execute(
                    "UPDATE listings SET price_cents = $2, updates = updates + 1, last_sequence = $3 "
                    "WHERE listing_id = $1",
                    p2.listing_id,
                    p2.new_price_cents,
                    se.sequence,
                )
        if self.pause_after_apply:
            # A window in which the test kills the process: applied, not yet committed.
            marker = os.environ.get("PROJECTOR_MARKER")
            if marker:
                Path(marker).write_text("applied")
            await asyncio.sleep(self.pause_after_apply)
