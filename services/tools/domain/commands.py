"""Commands the tools service carries out (imperative names)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class CreateListing:
    """Put up a new listing; the idempotency key decides its id, so a retry creates nothing new."""

    idempotency_key: str
    seller_id: str
    title: str
    description: str
    category: str
    price_cents: int
    currency: str = "USD"
    attributes: Mapping[str, str] = field(default_factory=dict)
