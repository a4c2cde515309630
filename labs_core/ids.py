"""Identifiers: time-ordered UUIDv7 for new things, UUIDv5 for things derived from a key."""

from __future__ import annotations

import os
import time
import uuid

_NAMESPACE = uuid.UUID("6f1d3c1e-6c2a-4d7e-9d4b-3a4a4d2f7b10")


def uuid7() -> str:
    """A new UUIDv7 (RFC 9562): sortable by creation time, random below the millisecond."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & 0xFFFF_FFFF_FFFF) << 80 | 0x7 << 76 | ((rand >> 64) & 0xFFF) << 64
    value |= 0x2 << 62 | (rand & 0x3FFF_FFFF_FFFF_FFFF)
    return str(uuid.UUID(int=value))


def derived_id(*parts: str) -> str:
    """A stable id derived from the given parts (same parts, same id)."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))
