"""Listings: the plain values the market tools and the catalogue work with."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from labs_core.errors import InvalidArgument

STATUSES = ("active", "sold", "archived")
CURRENCIES = ("USD", "EUR", "GBP")
#: The catalogue's categories (listing categories, not tool categories).
LISTING_CATEGORIES = (
    "electronics",
    "furniture",
    "clothing",
    "books",
    "sports",
    "toys",
    "home",
    "automotive",
    "garden",
    "music",
)
SORTS = ("price_asc", "price_desc", "newest", "oldest")
#: A trend is "flat" while its fitted slope stays under this share of the mean price per day.
FLAT_TREND_PCT_PER_DAY = 0.1


def to_cents(amount: float) -> int:
    """A currency amount as whole cents, rounded half up."""
    return int((Decimal(str(amount)) * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> float:
    """Whole cents as a currency amount."""
    return cents / 100


def trend_direction(pct_per_day: float | None) -> str:
    """`rising`, `falling` or `flat` (|slope| below FLAT_TREND_PCT_PER_DAY % of the mean a day)."""
    if pct_per_day is None or abs(pct_per_day) < FLAT_TREND_PCT_PER_DAY:
        return "flat"
    return "rising" if pct_per_day > 0 else "falling"


@dataclass(frozen=True, slots=True)
class NewListing:
    """What a ListingCreated says."""

    listing_id: str
    seller_id: str
    title: str
    description: str
    category: str
    price_cents: int
    currency: str = "USD"
    status: str = "active"
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Listing:
    """A listing as the read model holds it."""

    listing_id: str
    seller_id: str
    title: str
    description: str
    category: str
    price_cents: int
    currency: str
    status: str
    attributes: Mapping[str, str]
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """The listing as a tool returns it."""
        return {
            "id": self.listing_id,
            "seller": self.seller_id,
            "title": self.title,
            "description": self.description,
            "category": self.category,
            "price": from_cents(self.price_cents),
            "price_cents": self.price_cents,
            "currency": self.currency,
            "status": self.status,
            "attributes": dict(self.attributes),
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True, slots=True)
class ListingQuery:
    """Filters and order of a listing search; prices in cents."""

    category: str | None = None
    status: str | None = None
    seller_id: str | None = None
    text: str | None = None
    min_price_cents: int | None = None
    max_price_cents: int | None = None
    sort: str = "newest"

    def fingerprint(self) -> str:
        """A short hash of the filters and order, so a page token is not reused with others."""
        raw = json.dumps(
            [
                self.category,
                self.status,
                self.seller_id,
                self.text,
                self.min_price_cents,
                self.max_price_cents,
                self.sort,
            ]
        )
        return hashlib.sha256(raw.encode()).hexdigest()[:12]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a page ended: the last row's sort key (cents or epoch microseconds) and id."""

    key: int
    listing_id: str

    def encode(self, query: ListingQuery) -> str:
        """An opaque page token bound to the query's filters."""
        raw = json.dumps(
            {"k": self.key, "i": self.listing_id, "q": query.fingerprint()}, separators=(",", ":")
        )
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, query: ListingQuery) -> Cursor:
        """The cursor in a page token; InvalidArgument when it is malformed or for other filters."""
        try:
            raw = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
            key, listing_id, fp = int(raw["k"]), str(raw["i"]), str(raw["q"])
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidArgument("arguments.page_token", "is not a page token of this tool") from e
        if fp != query.fingerprint():
            raise InvalidArgument("arguments.page_token", "was issued for other filters or another sort")
        return cls(key, listing_id)


@dataclass(frozen=True, slots=True)
class ListingPage:
    """One page of a search, the total number of matches, and the token of the next page."""

    listings: list[Listing]
    total: int
    next_cursor: Cursor | None


@dataclass(frozen=True, slots=True)
class PriceTrend:
    """The least-squares slope of prices over time within listings, and how many points it saw."""

    slope_per_day: float | None
    pct_per_day: float | None
    points: int
    listings: int

    @property
    def direction(self) -> str:
        """Rising, falling or flat."""
        return trend_direction(self.pct_per_day)


@dataclass(frozen=True, slots=True)
class MarketStats:
    """Price figures of the listings in a window, in currency units (None when there are none)."""

    since: datetime
    until: datetime
    count: int
    mean: float | None
    median: float | None
    p10: float | None
    p90: float | None
    min: float | None
    max: float | None
    trend: PriceTrend
