"""Listing use cases: search, market analysis, and creating a listing with read-your-writes."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labs_core.errors import AlreadyExists, ConcurrencyConflict
from labs_core.ids import derived_id
from labs_core.projector import Projector
from services.tools.adapters.listing_events import ListingEventStore
from services.tools.adapters.listing_read_model import ListingReadModel
from services.tools.domain.commands import CreateListing
from services.tools.domain.errors import ProjectionLagging
from services.tools.domain.events import ListingCreated
from services.tools.domain.listings import Cursor, Listing, ListingPage, ListingQuery, MarketStats, NewListing
from services.tools.service_layer.read_cache import ReadCache


@dataclass(frozen=True, slots=True)
class Created:
    """The listing a CreateListing produced, and whether this call created it (False on a retry)."""

    listing: Listing
    created: bool
    sequence: int


class ListingService:
    """What the market tools do with listings."""

    def __init__(
        self,
        store: ListingEventStore,
        read_model: ListingReadModel,
        projector: Projector,
        *,
        read_wait_s: float = 5.0,
        clock_ns: Callable[[], int] = time.time_ns,
        cache_entries: int = 512,
        market_stats_max_age_s: float = 1.0,
    ) -> None:
        self.store = store
        self.read_model = read_model
        self.projector = projector
        self.read_wait_s = read_wait_s
        self.clock_ns = clock_ns
        #: Searches and market figures, memoised against the listings projection's checkpoint.
        self.cache = ReadCache(lambda: projector.checkpoint, max_entries=cache_entries)
        self.market_stats_max_age_s = market_stats_max_age_s

    async def search(
        self, query: ListingQuery, *, limit: int, offset: int = 0, page_token: str = ""
    ) -> ListingPage:
        """A page of listings; a page token continues after the previous page's last row."""
        after = Cursor.decode(page_token, query) if page_token else None
        return await self.cache.get(
            ("search", query, limit, offset, after),
            lambda: self.read_model.search(query, limit=limit, offset=offset, after=after),
        )

    async def market_stats(
        self, *, category: str, window_days: float, status: str | None, currency: str
    ) -> MarketStats:
        """Price figures and trend of one category over the last `window_days` days.

        The window ends when the figures are computed; an answer at most `market_stats_max_age_s`
        old (and at the same checkpoint) is given again, with the window it was computed for.
        """

        def compute() -> Awaitable[MarketStats]:
            until = datetime.fromtimestamp(self.clock_ns() / 1e9, tz=UTC)
            since = until - timedelta(days=window_days)
            return self.read_model.market_stats(
                category=category, since=since, until=until, status=status, currency=currency
            )

        return await self.cache.get(
            ("market_stats", category, window_days, status, currency),
            compute,
            max_age_s=self.market_stats_max_age_s,
        )

    async def create(self, cmd: CreateListing, *, correlation_id: str = "") -> Created:
        """Append ListingCreated once per idempotency key; return the listing as the read model has it."""
        listing_id = derived_id("listing", cmd.idempotency_key)
        event = ListingCreated(
            NewListing(
                listing_id=listing_id,
                seller_id=cmd.seller_id,
                title=cmd.title,
                description=cmd.description,
                category=cmd.category,
                price_cents=cmd.price_cents,
                currency=cmd.currency,
                status="active",
                attributes=dict(cmd.attributes),
            ),
            self.clock_ns(),
        )
        try:
            r = await self.store.append(
                event,
                msg_id=derived_id("create_listing", cmd.idempotency_key),
                expected_sequence=0,
                correlation_id=correlation_id,
            )
            sequence, created = r.sequence, not r.duplicate
        except ConcurrencyConflict:
            # Created by an earlier call with the same key (outside the duplicate window).
            history = await self.store.history(listing_id)
            sequence, created = history[0].sequence, False
        if not await self.projector.wait_for(sequence, self.read_wait_s):
            raise ProjectionLagging(
                f"listing {listing_id} was created but is not readable yet; retry the call"
            )
        listing = await self.read_model.get(listing_id)
        if listing is None:
            raise ProjectionLagging(f"listing {listing_id} is not in the read model")
        # Price and status may have moved since; title, category and seller never do.
        if not created and (listing.title, listing.category, listing.seller_id) != (
            cmd.title,
            cmd.category,
            cmd.seller_id,
        ):
            raise AlreadyExists(f"idempotency key {cmd.idempotency_key!r} was used for a different listing")
        return Created(listing=listing, created=created, sequence=sequence)
