"""Identifiers: time-ordered UUIDv7 for new things, UUIDv5 for things derived from a key."""

from __future__ import annotations

import os
import re
import time
import unicodedata
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


#: An agent type as the registry spells it: upper-case ASCII letters, digits and '_'.
AGENT_TYPE_PATTERN = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
#: An id this system issues (uuid7 / derived_id): the canonical lower-case UUID text.
ID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def is_canonical_agent_type(value: str) -> bool:
    """Whether `value` is spelled exactly as agent types are (no folding, no trimming)."""
    return AGENT_TYPE_PATTERN.fullmatch(value) is not None


def lookalike(value: str) -> str:
    """The canonical spelling a value would have after every folding some layer might apply
    (Unicode compatibility forms, any whitespace, case): a permission check compares this, so
    no spelling of a privileged name is weaker than the name itself."""
    return "".join(unicodedata.normalize("NFKC", value).split()).upper()


def is_issued_id(value: str) -> bool:
    """Whether `value` has the form of an id this system issues (safe as a subject token)."""
    return ID_PATTERN.fullmatch(value) is not None


def require_issued_id(field: str, value: str) -> str:
    """`value` if it is an issued id; InvalidArgument naming `field` otherwise."""
    from labs_core.errors import InvalidArgument

    if not value:
        raise InvalidArgument(field, "required")
    if not is_issued_id(value):
        raise InvalidArgument(field, f"{value[:80]!r} is not an id this service issues (a lower-case UUID)")
    return value
