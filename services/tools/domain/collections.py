"""Curated collections: events as plain values, the fold that rebuilds a collection, ranking."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

RANKINGS = ("manual", "score")


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a collection."""

    item_id: str
    title: str = ""
    score: float = 0.0
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_json(self, position: int) -> dict[str, object]:
        """The item as a tool returns it."""
        return {
            "item_id": self.item_id,
            "title": self.title,
            "score": self.score,
            "position": position,
            "attributes": dict(self.attributes),
        }


@dataclass(frozen=True, slots=True)
class CollectionCreated:
    """A collection was created."""

    collection_id: str
    name: str
    owner: str
    description: str
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class ItemsAdded:
    """Items were appended after the last position."""

    collection_id: str
    items: tuple[Item, ...]
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class ItemsRemoved:
    """Items were removed; the rest keep their order."""

    collection_id: str
    item_ids: tuple[str, ...]
    idempotency_key: str = ""


@dataclass(frozen=True, slots=True)
class Reordered:
    """The items were put in a new order (all of them, first to last)."""

    collection_id: str
    item_ids: tuple[str, ...]
    ranked_by: str = "manual"
    idempotency_key: str = ""


CollectionEvent = CollectionCreated | ItemsAdded | ItemsRemoved | Reordered


@dataclass
class Collection:
    """A collection's state, folded from its events (never from a clock)."""

    collection_id: str
    name: str = ""
    owner: str = ""
    description: str = ""
    ranked_by: str = "manual"
    items: list[Item] = field(default_factory=list)
    version: int = 0
    keys: set[str] = field(default_factory=set)

    def apply(self, ev: CollectionEvent) -> None:
        """Apply one event."""
        if isinstance(ev, CollectionCreated):
            self.name, self.owner, self.description = ev.name, ev.owner, ev.description
        elif isinstance(ev, ItemsAdded):
            have = {i.item_id for i in self.items}
            self.items.extend(i for i in ev.items if i.item_id not in have)
        elif isinstance(ev, ItemsRemoved):
            gone = set(ev.item_ids)
            self.items = [i for i in self.items if i.item_id not in gone]
        elif isinstance(ev, Reordered):
            by_id = {i.item_id: i for i in self.items}
            self.items = [by_id[i] for i in ev.item_ids if i in by_id]
            self.ranked_by = ev.ranked_by
        if ev.idempotency_key:
            self.keys.add(ev.idempotency_key)
        self.version += 1

    def to_json(self) -> dict[str, object]:
        """The collection as a tool returns it."""
        return {
            "collection_id": self.collection_id,
            "name": self.name,
            "owner": self.owner,
            "description": self.description,
            "ranked_by": self.ranked_by,
            "version": self.version,
            "items": [item.to_json(n) for n, item in enumerate(self.items, 1)],
        }


def fold(collection_id: str, events: Iterable[CollectionEvent]) -> Collection:
    """The collection after `events`."""
    c = Collection(collection_id)
    for ev in events:
        c.apply(ev)
    return c


def collection_id_for(owner: str, name: str) -> str:
    """A collection's id: one per (owner, name), so "create" of an existing one finds it."""
    digest = hashlib.sha256(f"{owner}\0{name.strip().casefold()}".encode()).hexdigest()
    return f"col_{digest[:20]}"


def score_order(items: Iterable[Item]) -> tuple[str, ...]:
    """Item ids by score, highest first; ties keep their current order (stable sort)."""
    return tuple(i.item_id for i in sorted(items, key=lambda i: -i.score))
