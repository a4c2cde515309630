"""The catalogue generator: deterministic, realistic, spread over the window (no servers)."""

from __future__ import annotations

import itertools
import statistics
from collections import Counter

from services.tools.adapters.listing_events import from_envelope, to_envelope
from services.tools.domain.catalogue import DAYS, NS_PER_DAY, PROFILES, generate, iter_catalogue
from services.tools.domain.events import ListingCreated, ListingPriceChanged, ListingStatusChanged

ANCHOR = 1_760_000_000 * 1_000_000_000


def test_same_seed_same_catalogue_and_prefix_stable() -> None:
    a = generate(11, 500, ANCHOR)
    assert a == generate(11, 500, ANCHOR)
    assert a[:200] == generate(11, 200, ANCHOR)
    assert a != generate(12, 500, ANCHOR)
    assert len({s.listing_id for s in a}) == 500


def test_iter_catalogue_is_lazy_and_matches_generate() -> None:
    # A billion listings would never finish if they were built up front: the seeder takes chunks.
    first = list(itertools.islice(iter_catalogue(11, 10**9, ANCHOR), 300))
    assert first == generate(11, 300, ANCHOR)
    assert list(iter_catalogue(11, 500, ANCHOR)) == generate(11, 500, ANCHOR)


def test_realistic_shape() -> None:
    plan = generate(3, 2000, ANCHOR)
    created = [s.events[0] for s in plan]
    assert all(isinstance(c, ListingCreated) for c in created)
    cats = Counter(c.listing.category for c in created if isinstance(c, ListingCreated))
    assert set(cats) == set(PROFILES) and min(cats.values()) > 150
    for s in plan:
        times = [e.occurred_ns for e in s.events]
        assert times == sorted(times)
        assert times[0] >= ANCHOR - DAYS * NS_PER_DAY and times[-1] <= ANCHOR
        for e in s.events[1:]:
            assert isinstance(e, ListingPriceChanged | ListingStatusChanged)
    ended = Counter(e.new_status for s in plan for e in s.events if isinstance(e, ListingStatusChanged))
    assert 0.08 < ended["sold"] / 2000 < 0.16 and ended["archived"] > 0
    changes = sum(isinstance(e, ListingPriceChanged) for s in plan for e in s.events)
    assert changes > 2000
    # Per-category spread: books are cheap, bikes and guitars are not.
    median = {
        c: statistics.median(
            x.listing.price_cents
            for x in created
            if isinstance(x, ListingCreated) and x.listing.category == c
        )
        for c in PROFILES
    }
    assert median["books"] < median["clothing"] < median["electronics"]
    assert all(x.listing.price_cents % 50 == 49 for x in created if isinstance(x, ListingCreated))


def test_events_round_trip_through_protobuf() -> None:
    for s in generate(5, 30, ANCHOR):
        for e in s.events:
            assert from_envelope(to_envelope(e)) == e
