"""Listing events as plain values (past tense, immutable); the adapter maps them to protobuf."""

from __future__ import annotations

from dataclasses import dataclass

from services.tools.domain.listings import NewListing


@dataclass(frozen=True, slots=True)
class ListingCreated:
    """A listing was put up."""

    listing: NewListing
    occurred_ns: int

    @property
    def listing_id(self) -> str:
        """The listing's id."""
        return self.listing.listing_id


@dataclass(frozen=True, slots=True)
class ListingPriceChanged:
    """A listing's price changed."""

    listing_id: str
    old_price_cents: int
    new_price_cents: int
    occurred_ns: int


@dataclass(frozen=True, slots=True)
class ListingStatusChanged:
    """A listing's status changed (sold, archived, active again)."""

    listing_id: str
    old_status: str
    new_status: str
    occurred_ns: int


@dataclass(frozen=True, slots=True)
class ListingDeleted:
    """A listing was deleted; it leaves the read model and takes no further change."""

    listing_id: str
    old_status: str
    occurred_ns: int


ListingEvent = ListingCreated | ListingPriceChanged | ListingStatusChanged | ListingDeleted
