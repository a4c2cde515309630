"""batch_process_items: a bulk change over listings, item by item, idempotent per batch key.

Each item is one listing event whose causation id is the batch: a retry of the batch (even past
the log's duplicate window) finds the item's event in the listing's history and reports it
instead of acting twice. The finished batch is recorded as ListingBatchProcessed on the
`batch` aggregate (expected sequence 0), so the same key answers the same result.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from labs.events.v1 import schedule_pb2

from labs_core.errors import AlreadyExists, ConcurrencyConflict
from labs_core.eventlog import EventLog, StoredEvent, new_event
from labs_core.ids import derived_id
from labs_core.projector import Projector
from labs_core.structs import dict_to_struct, struct_to_dict
from services.tools.adapters.listing_events import AGGREGATE, from_envelope, to_envelope
from services.tools.domain.errors import ProjectionLagging
from services.tools.domain.events import (
    ListingCreated,
    ListingDeleted,
    ListingEvent,
    ListingPriceChanged,
    ListingStatusChanged,
)
from services.tools.domain.listings import STATUSES, to_cents

OPERATIONS = ("update_price", "change_status", "delete")
BATCH_AGGREGATE = "batch"


@dataclass
class _State:
    exists: bool = False
    deleted: bool = False
    price_cents: int = 0
    status: str = ""
    last_sequence: int = 0
    done_by_batch: ListingEvent | None = None


def _fold(history: list[StoredEvent], batch_id: str) -> _State:
    st = _State()
    for stored in history:
        ev = from_envelope(stored.event)
        st.last_sequence = stored.sequence
        if ev is None:
            continue
        if stored.event.causation_id == batch_id:
            st.done_by_batch = ev
        if isinstance(ev, ListingCreated):
            st.exists, st.price_cents, st.status = True, ev.listing.price_cents, ev.listing.status
        elif isinstance(ev, ListingPriceChanged):
            st.price_cents = ev.new_price_cents
        elif isinstance(ev, ListingStatusChanged):
            st.status = ev.new_status
        elif isinstance(ev, ListingDeleted):
            st.deleted = True
    return st


def _describe(ev: ListingEvent) -> dict[str, Any]:
    if isinstance(ev, ListingPriceChanged):
        return {"old_price": ev.old_price_cents / 100, "new_price": ev.new_price_cents / 100}
    if isinstance(ev, ListingStatusChanged):
        return {"old_status": ev.old_status, "new_status": ev.new_status}
    if isinstance(ev, ListingDeleted):
        return {"old_status": ev.old_status, "deleted": True}
    return {}


def request_hash(operation: str, items: list[dict[str, Any]]) -> str:
    """A fingerprint of the batch's content: the same key with other content is refused."""
    body = json.dumps({"operation": operation, "items": items}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:32]


class BatchService:
    """Bulk listing changes with per-item results."""

    def __init__(
        self,
        eventlog: EventLog,
        projector: Projector,
        *,
        read_wait_s: float = 5.0,
        concurrency: int = 16,
        clock_ns: Callable[[], int] = time.time_ns,
        actor: str = "tools",
        after_bulk_change: Callable[[], Awaitable[None]] | None = None,
        bulk_threshold: int = 100,
    ) -> None:
        self.log = eventlog
        self.projector = projector
        self.read_wait_s = read_wait_s
        self.concurrency = concurrency
        self.clock_ns = clock_ns
        self.actor = actor
        #: Called (e.g. ANALYZE of the listings tables) once a batch changed >= bulk_threshold listings.
        self.after_bulk_change = after_bulk_change
        self.bulk_threshold = bulk_threshold

    async def run(
        self, batch_key: str, operation: str, items: list[dict[str, Any]], *, correlation_id: str = ""
    ) -> dict[str, Any]:
        """Apply the operation to every item; the same batch key returns the first result."""
        batch_id = derived_id("listing_batch", batch_key)
        fingerprint = request_hash(operation, items)
        previous = await self._recorded(batch_id)
        if previous is not None:
            return self._replay(previous, fingerprint, batch_key)
        sem = asyncio.Semaphore(self.concurrency)

        async def one(index: int, item: dict[str, Any]) -> tuple[dict[str, Any], int]:
            async with sem:
                return await self._item(batch_id, operation, index, item, correlation_id)

        outcomes = await asyncio.gather(*(one(i, it) for i, it in enumerate(items)))
        results = [r for r, _ in outcomes]
        top = max((seq for _, seq in outcomes), default=0)
        if top and not await self.projector.wait_for(top, self.read_wait_s):
            raise ProjectionLagging("the batch was applied but listings are not readable yet; retry it")
        succeeded = sum(1 for r in results if r["ok"])
        if self.after_bulk_change is not None and succeeded >= self.bulk_threshold:
            await self.after_bulk_change()
        result = {
            "batch_key": batch_key,
            "batch_id": batch_id,
            "operation": operation,
            "request_hash": fingerprint,
            "total": len(results),
            "succeeded": succeeded,
            "failed": len(results) - succeeded,
            "results": results,
        }
        payload = schedule_pb2.ListingBatchProcessed(
            batch_id=batch_id, batch_key=batch_key, operation=operation
        )
        dict_to_struct(result, payload.result)
        env = new_event(
            BATCH_AGGREGATE,
            batch_id,
            actor=self.actor,
            correlation_id=correlation_id,
            listing_batch_processed=payload,
        )
        try:
            await self.log.append(
                env, msg_id=derived_id("listing_batch_processed", batch_id), expected_sequence=0
            )
        except ConcurrencyConflict:
            # A concurrent call with the same key finished first: its record is the answer.
            previous = await self._recorded(batch_id)
            if previous is not None:
                return self._replay(previous, fingerprint, batch_key)
        return {**result, "replayed": False}

    async def _recorded(self, batch_id: str) -> dict[str, Any] | None:
        history = await self.log.read_aggregate(BATCH_AGGREGATE, batch_id)
        for stored in history:
            if stored.event.WhichOneof("payload") == "listing_batch_processed":
                return struct_to_dict(stored.event.listing_batch_processed.result)
        return None

    @staticmethod
    def _replay(previous: dict[str, Any], fingerprint: str, batch_key: str) -> dict[str, Any]:
        if previous.get("request_hash") != fingerprint:
            raise AlreadyExists(f"batch_key {batch_key!r} was already used for a different batch")
        for key in ("total", "succeeded", "failed"):
            previous[key] = int(previous[key])
        return {**previous, "replayed": True}

    async def _item(
        self, batch_id: str, operation: str, index: int, item: dict[str, Any], correlation_id: str
    ) -> tuple[dict[str, Any], int]:
        listing_id = str(item["listing_id"])
        base: dict[str, Any] = {"index": index, "listing_id": listing_id}
        for _ in range(3):
            st = _fold(await self.log.read_aggregate(AGGREGATE, listing_id), batch_id)
            if st.done_by_batch is not None:
                return {
                    **base,
                    "ok": True,
                    "outcome": "done",
                    **_describe(st.done_by_batch),
                }, st.last_sequence
            if not st.exists:
                return {**base, "ok": False, "outcome": "error", "error": "listing not found"}, 0
            if st.deleted:
                return {**base, "ok": False, "outcome": "error", "error": "listing was deleted"}, 0
            now = self.clock_ns()
            event: ListingEvent
            if operation == "update_price":
                cents = to_cents(item["price"])
                if cents < 1:
                    return {
                        **base,
                        "ok": False,
                        "outcome": "error",
                        "error": "price must be at least 0.01",
                    }, 0
                if cents == st.price_cents:
                    return {**base, "ok": True, "outcome": "unchanged", "price": cents / 100}, 0
                event = ListingPriceChanged(listing_id, st.price_cents, cents, now)
            elif operation == "change_status":
                status = item["status"]
                if status not in STATUSES:
                    return {**base, "ok": False, "outcome": "error", "error": f"unknown status {status!r}"}, 0
                if status == st.status:
                    return {**base, "ok": True, "outcome": "unchanged", "status": status}, 0
                event = ListingStatusChanged(listing_id, st.status, status, now)
            else:
                event = ListingDeleted(listing_id, st.status, now)
            env = to_envelope(event, actor=self.actor, correlation_id=correlation_id)
            env.causation_id = batch_id
            try:
                r = await self.log.append(
                    env,
                    msg_id=derived_id("listing_batch_item", batch_id, listing_id),
                    expected_sequence=st.last_sequence,
                )
            except ConcurrencyConflict:
                continue  # the listing moved on: read it again and decide again
            return {**base, "ok": True, "outcome": "done", **_describe(event)}, r.sequence
        return {**base, "ok": False, "outcome": "error", "error": "listing kept changing; retry the batch"}, 0
