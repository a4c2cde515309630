"""Curating collections: commands folded against the aggregate's history, appended with
optimistic concurrency, idempotent per key, and readable as soon as they return."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from labs_core.errors import ConcurrencyConflict, FailedPrecondition, NotFound
from labs_core.projector import Projector
from services.tools.adapters.collection_events import AggregateStore, collection_envelope, collection_event
from services.tools.domain.collections import (
    Collection,
    CollectionCreated,
    CollectionEvent,
    Item,
    ItemsAdded,
    ItemsRemoved,
    Reordered,
    collection_id_for,
    fold,
    score_order,
)
from services.tools.domain.errors import ArgumentsInvalid, FieldViolation, ProjectionLagging

TOOL = "curate_content"


def _bad(field: str, reason: str) -> ArgumentsInvalid:
    return ArgumentsInvalid(TOOL, [FieldViolation(field, reason)])


@dataclass(frozen=True, slots=True)
class Outcome:
    """The collection after a command, and whether this call changed it."""

    collection: Collection
    changed: bool


class CollectionService:
    """create / add / remove / reorder / get / list over the collection aggregates."""

    def __init__(
        self, store: AggregateStore, pool: asyncpg.Pool, projector: Projector, *, read_wait_s: float = 5.0
    ) -> None:
        self.store = store
        self.pool = pool
        self.projector = projector
        self.read_wait_s = read_wait_s

    async def load(self, collection_id: str) -> tuple[Collection, int, list[CollectionEvent]]:
        """The folded collection, its last sequence (0: none) and its events."""
        stored = await self.store.history(collection_id)
        events = [e for e in (collection_event(s.event) for s in stored) if e is not None]
        return fold(collection_id, events), (stored[-1].sequence if stored else 0), events

    async def _append(self, ev: CollectionEvent, expected: int, key: str, correlation_id: str) -> None:
        env = collection_envelope(ev, actor="tools", correlation_id=correlation_id)
        msg_id = "col:" + hashlib.sha256(f"{ev.collection_id}\0{key}".encode()).hexdigest()[:32]
        done = await self.store.append(env, msg_id=msg_id, expected_sequence=expected)
        if not await self.projector.wait_for(done.sequence, self.read_wait_s):
            raise ProjectionLagging(f"collection {ev.collection_id} not yet in the read model")

    async def _decide(
        self, collection_id: str, key: str, correlation_id: str, decide: Any, *, must_exist: bool = True
    ) -> Outcome:
        """Load, let `decide(collection)` return an event (or None), append; retry on a race."""
        for _ in range(5):
            c, last, events = await self.load(collection_id)
            if must_exist and last == 0:
                raise NotFound(f"no collection {collection_id}")
            if key and key in c.keys:
                # Already done by this key: answer with the state right after that command.
                upto = Collection(collection_id)
                for ev in events:
                    upto.apply(ev)
                    if ev.idempotency_key == key:
                        break
                return Outcome(upto, False)
            ev = decide(c)
            if ev is None:
                return Outcome(c, False)
            try:
                await self._append(ev, last, key or f"v{last}", correlation_id)
            except ConcurrencyConflict:
                continue
            c.apply(ev)
            return Outcome(c, True)
        raise FailedPrecondition(f"collection {collection_id} is changing too fast; retry")

    async def create(
        self, owner: str, name: str, description: str, *, key: str, correlation_id: str = ""
    ) -> Outcome:
        """Create the owner's collection of that name, or find it (created=false)."""
        cid = collection_id_for(owner, name)

        def decide(c: Collection) -> CollectionEvent | None:
            if c.version:
                return None
            return CollectionCreated(cid, name.strip(), owner, description, key)

        return await self._decide(cid, key, correlation_id, decide, must_exist=False)

    async def add(self, cid: str, items: list[Item], *, key: str, correlation_id: str = "") -> Outcome:
        """Append items not already in the collection; an item already in it is an error."""

        def decide(c: Collection) -> CollectionEvent | None:
            have = {i.item_id for i in c.items}
            for n, i in enumerate(items):
                if i.item_id in have:
                    raise _bad(f"arguments.items[{n}].item_id", f"{i.item_id!r} is already in the collection")
            return ItemsAdded(cid, tuple(items), key)

        return await self._decide(cid, key, correlation_id, decide)

    async def remove(self, cid: str, item_ids: list[str], *, key: str, correlation_id: str = "") -> Outcome:
        """Remove items; naming one that is not there is an error."""

        def decide(c: Collection) -> CollectionEvent | None:
            have = {i.item_id for i in c.items}
            for n, i in enumerate(item_ids):
                if i not in have:
                    raise _bad(f"arguments.item_ids[{n}]", f"{i!r} is not in the collection")
            return ItemsRemoved(cid, tuple(item_ids), key)

        return await self._decide(cid, key, correlation_id, decide)

    async def reorder(
        self, cid: str, item_ids: list[str] | None, *, key: str, correlation_id: str = ""
    ) -> Outcome:
        """Put items in the given order (a permutation of all of them), or rank them by score."""

        def decide(c: Collection) -> CollectionEvent | None:
            if item_ids is None:
                return Reordered(cid, score_order(c.items), "score", key)
            have = [i.item_id for i in c.items]
            if sorted(item_ids) != sorted(have):
                missing = sorted(set(have) - set(item_ids))
                extra = sorted(set(item_ids) - set(have))
                raise _bad(
                    "arguments.item_ids",
                    f"must list every item once (missing: {missing}, not in the collection: {extra})",
                )
            return Reordered(cid, tuple(item_ids), "manual", key)

        return await self._decide(cid, key, correlation_id, decide)

    async def get(self, cid: str) -> dict[str, Any]:
        """One collection from the read model, its items in position order."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM collections WHERE id = $1", cid)
            if row is None:
                raise NotFound(f"no collection {cid}")
            items = await conn.fetch(
                "SELECT item_id, title, score, attributes FROM collection_items WHERE collection_id = $1 "
                "ORDER BY position, item_id",
                cid,
            )
        return {
            "collection_id": row["id"],
            "name": row["name"],
            "owner": row["owner"],
            "description": row["description"],
            "ranked_by": row["ranked_by"],
            "version": row["version"],
            "items": [
                {
                    "item_id": r["item_id"],
                    "title": r["title"],
                    "score": r["score"],
                    "position": n,
                    "attributes": json.loads(r["attributes"]),
                }
                for n, r in enumerate(items, 1)
            ],
        }

    async def list(self, owner: str | None, limit: int) -> list[dict[str, Any]]:
        """Collections (of one owner, or all), newest change first, with their item counts."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT c.id, c.name, c.owner, c.ranked_by, c.version, c.updated_at, "
                "(SELECT count(*) FROM collection_items i WHERE i.collection_id = c.id) AS items "
                "FROM collections c WHERE ($1::text IS NULL OR c.owner = $1) "
                "ORDER BY c.updated_at DESC, c.id LIMIT $2",
                owner,
                limit,
            )
        return [
            {
                "collection_id": r["id"],
                "name": r["name"],
                "owner": r["owner"],
                "ranked_by": r["ranked_by"],
                "version": r["version"],
                "item_count": r["items"],
                "updated_at": r["updated_at"].isoformat(),
            }
            for r in rows
        ]
