"""Collection and notification events on the log: domain values <-> protobuf envelopes."""

from __future__ import annotations

from typing import Any

from labs.events.v1 import collection_pb2, envelope_pb2, notification_pb2

from labs_core.eventlog import AppendResult, EventLog, StoredEvent, new_event
from services.tools.domain.collections import (
    CollectionCreated,
    CollectionEvent,
    Item,
    ItemsAdded,
    ItemsRemoved,
    Reordered,
)
from services.tools.domain.notifications import Delivery

COLLECTION = "collection"
NOTIFICATION = "notification"


def _item_pb(i: Item) -> collection_pb2.CollectionItem:
    return collection_pb2.CollectionItem(
        item_id=i.item_id, title=i.title, score=i.score, attributes=dict(i.attributes)
    )


def collection_envelope(ev: CollectionEvent, *, actor: str, correlation_id: str) -> envelope_pb2.Event:
    """The envelope of a collection event."""
    kw: dict[str, Any] = {"actor": actor, "correlation_id": correlation_id}
    cid = ev.collection_id
    if isinstance(ev, CollectionCreated):
        return new_event(
            COLLECTION,
            cid,
            **kw,
            collection_created=collection_pb2.CollectionCreated(
                collection_id=cid,
                name=ev.name,
                owner=ev.owner,
                description=ev.description,
                idempotency_key=ev.idempotency_key,
            ),
        )
    if isinstance(ev, ItemsAdded):
        return new_event(
            COLLECTION,
            cid,
            **kw,
            collection_item_added=collection_pb2.CollectionItemAdded(
                collection_id=cid, items=[_item_pb(i) for i in ev.items], idempotency_key=ev.idempotency_key
            ),
        )
    if isinstance(ev, ItemsRemoved):
        return new_event(
            COLLECTION,
            cid,
            **kw,
            collection_item_removed=collection_pb2.CollectionItemRemoved(
                collection_id=cid, item_ids=list(ev.item_ids), idempotency_key=ev.idempotency_key
            ),
        )
    return new_event(
        COLLECTION,
        cid,
        **kw,
        collection_reordered=collection_pb2.CollectionReordered(
            collection_id=cid,
            item_ids=list(ev.item_ids),
            ranked_by=ev.ranked_by,
            idempotency_key=ev.idempotency_key,
        ),
    )


def collection_event(env: envelope_pb2.Event) -> CollectionEvent | None:
    """The collection event in an envelope, or None for any other payload."""
    kind = env.WhichOneof("payload")
    cid = env.aggregate_id
    if kind == "collection_created":
        c = env.collection_created
        return CollectionCreated(cid, c.name, c.owner, c.description, c.idempotency_key)
    if kind == "collection_item_added":
        a = env.collection_item_added
        items = tuple(Item(i.item_id, i.title, i.score, dict(i.attributes)) for i in a.items)
        return ItemsAdded(cid, items, a.idempotency_key)
    if kind == "collection_item_removed":
        r = env.collection_item_removed
        return ItemsRemoved(cid, tuple(r.item_ids), r.idempotency_key)
    if kind == "collection_reordered":
        o = env.collection_reordered
        return Reordered(cid, tuple(o.item_ids), o.ranked_by or "manual", o.idempotency_key)
    return None


def notification_sent(
    notification_id: str,
    *,
    channel: str,
    recipient: str,
    subject: str,
    body: str,
    endpoint: str,
    idempotency_key: str,
    actor: str,
    correlation_id: str,
) -> envelope_pb2.Event:
    """The envelope of NotificationSent."""
    return new_event(
        NOTIFICATION,
        notification_id,
        actor=actor,
        correlation_id=correlation_id,
        notification_sent=notification_pb2.NotificationSent(
            notification_id=notification_id,
            channel=channel,
            recipient=recipient,
            subject=subject,
            body=body,
            endpoint=endpoint,
            idempotency_key=idempotency_key,
        ),
    )


def delivery_outcome(
    notification_id: str, d: Delivery, *, actor: str, correlation_id: str
) -> envelope_pb2.Event:
    """The envelope of NotificationDelivered or NotificationDeliveryFailed."""
    kw: dict[str, Any] = {"actor": actor, "correlation_id": correlation_id}
    if d.delivered:
        return new_event(
            NOTIFICATION,
            notification_id,
            **kw,
            notification_delivered=notification_pb2.NotificationDelivered(
                notification_id=notification_id,
                attempts=d.attempts,
                status_code=d.status_code,
                duration_us=d.duration_us,
            ),
        )
    return new_event(
        NOTIFICATION,
        notification_id,
        **kw,
        notification_delivery_failed=notification_pb2.NotificationDeliveryFailed(
            notification_id=notification_id,
            attempts=d.attempts,
            status_code=d.status_code,
            error=d.error,
            duration_us=d.duration_us,
        ),
    )


class AggregateStore:
    """Appends to and reads one aggregate type's events (idempotent, concurrency-checked)."""

    def __init__(self, eventlog: EventLog, aggregate: str) -> None:
        self.log = eventlog
        self.aggregate = aggregate

    async def history(self, aggregate_id: str) -> list[StoredEvent]:
        """Every stored event of one aggregate, in order."""
        return await self.log.read_aggregate(self.aggregate, aggregate_id)

    async def append(
        self, env: envelope_pb2.Event, *, msg_id: str, expected_sequence: int | None
    ) -> AppendResult:
        """Append; ConcurrencyConflict if the aggregate moved on since `expected_sequence`."""
        return await self.log.append(env, msg_id=msg_id, expected_sequence=expected_sequence)
