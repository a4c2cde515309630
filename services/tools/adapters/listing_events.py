"""Listing events on the event log: domain values <-> protobuf envelopes, and appends."""

from __future__ import annotations

from labs.events.v1 import envelope_pb2, listing_pb2

from labs_core.eventlog import AppendResult, EventLog, StoredEvent, new_event
from services.tools.adapters.collection_events import AggregateStore
from services.tools.domain.events import (
    ListingCreated,
    ListingDeleted,
    ListingEvent,
    ListingPriceChanged,
    ListingStatusChanged,
)
from services.tools.domain.listings import NewListing

AGGREGATE = "listing"


def listing_subjects(prefix: str) -> list[str]:
    """The subject filters of every listing event."""
    return [f"{prefix}.{AGGREGATE}.>"]


def occurred_ns(event: envelope_pb2.Event) -> int:
    """The envelope's occurred-at as nanoseconds since the epoch."""
    return event.occurred_at.seconds * 1_000_000_000 + event.occurred_at.nanos


def to_envelope(event: ListingEvent, *, actor: str = "", correlation_id: str = "") -> envelope_pb2.Event:
    """The protobuf envelope of a listing event (its occurred-at is the event's own)."""
    if isinstance(event, ListingCreated):
        n = event.listing
        return new_event(
            AGGREGATE,
            n.listing_id,
            actor=actor,
            correlation_id=correlation_id,
            occurred_at_ns=event.occurred_ns,
            listing_created=listing_pb2.ListingCreated(
                listing_id=n.listing_id,
                seller_id=n.seller_id,
                title=n.title,
                description=n.description,
                category=n.category,
                price_cents=n.price_cents,
                currency=n.currency,
                status=n.status,
                attributes=dict(n.attributes),
            ),
        )
    if isinstance(event, ListingPriceChanged):
        return new_event(
            AGGREGATE,
            event.listing_id,
            actor=actor,
            correlation_id=correlation_id,
            occurred_at_ns=event.occurred_ns,
            listing_price_changed=listing_pb2.ListingPriceChanged(
                listing_id=event.listing_id,
                old_price_cents=event.old_price_cents,
                new_price_cents=event.new_price_cents,
            ),
        )
    if isinstance(event, ListingDeleted):
        return new_event(
            AGGREGATE,
            event.listing_id,
            actor=actor,
            correlation_id=correlation_id,
            occurred_at_ns=event.occurred_ns,
            listing_deleted=listing_pb2.ListingDeleted(
                listing_id=event.listing_id, old_status=event.old_status
            ),
        )
    return new_event(
        AGGREGATE,
        event.listing_id,
        actor=actor,
        correlation_id=correlation_id,
        occurred_at_ns=event.occurred_ns,
        listing_status_changed=listing_pb2.ListingStatusChanged(
            listing_id=event.listing_id, old_status=event.old_status, new_status=event.new_status
        ),
    )


def from_envelope(event: envelope_pb2.Event) -> ListingEvent | None:
    """The listing event in an envelope, or None for any other payload."""
    kind = event.WhichOneof("payload")
    at = occurred_ns(event)
    if kind == "listing_created":
        c = event.listing_created
        return ListingCreated(
            NewListing(
                listing_id=c.listing_id or event.aggregate_id,
                seller_id=c.seller_id,
                title=c.title,
                description=c.description,
                category=c.category,
                price_cents=c.price_cents,
                currency=c.currency or "USD",
                status=c.status or "active",
                attributes=dict(c.attributes),
            ),
            at,
        )
    if kind == "listing_price_changed":
        p = event.listing_price_changed
        return ListingPriceChanged(
            p.listing_id or event.aggregate_id, p.old_price_cents, p.new_price_cents, at
        )
    if kind == "listing_status_changed":
        s = event.listing_status_changed
        return ListingStatusChanged(s.listing_id or event.aggregate_id, s.old_status, s.new_status, at)
    if kind == "listing_deleted":
        d = event.listing_deleted
        return ListingDeleted(d.listing_id or event.aggregate_id, d.old_status, at)
    return None


class ListingEventStore:
    """Appends listing events to the log with idempotency and optimistic concurrency (an AggregateStore)."""

    def __init__(self, eventlog: EventLog, *, actor: str = "tools") -> None:
        self.log = eventlog
        self.actor = actor
        self._store = AggregateStore(eventlog, AGGREGATE)

    @property
    def subjects(self) -> list[str]:
        """The subject filters of listing events on this log."""
        return listing_subjects(self.log.prefix)

    async def append(
        self,
        event: ListingEvent,
        *,
        msg_id: str,
        expected_sequence: int | None,
        correlation_id: str = "",
    ) -> AppendResult:
        """Append one event; ConcurrencyConflict when the listing moved on since `expected_sequence`."""
        env = to_envelope(event, actor=self.actor, correlation_id=correlation_id)
        return await self._store.append(env, msg_id=msg_id, expected_sequence=expected_sequence)

    async def history(self, listing_id: str) -> list[StoredEvent]:
        """Every stored event of one listing, in order."""
        return await self._store.history(listing_id)

    async def pending(self, from_sequence: int) -> int:
        """How many listing events there are from `from_sequence` on."""
        return await self.log.pending_count(self.subjects, from_sequence)
