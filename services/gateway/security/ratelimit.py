"""Per-key token buckets: a dict look-up and a few arithmetic operations per request."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Rate:
    """Requests per second, and how many may come at once."""

    per_second: float
    burst: float


def parse_rates(value: str) -> dict[str, Rate]:
    """Parse "viewer=20/40,operator=20/40,admin=50/100" (role=rate/burst; 0 rate: unlimited)."""
    rates: dict[str, Rate] = {}
    for item in (p.strip() for p in value.split(",")):
        if not item:
            continue
        role, _, spec = item.partition("=")
        rate, _, burst = spec.partition("/")
        try:
            r = float(rate)
            b = float(burst) if burst else max(1.0, r)
        except ValueError:
            raise ValueError(f"RATE_LIMITS entry {item!r}: expected role=rate/burst") from None
        if r < 0 or b < 1:
            raise ValueError(f"RATE_LIMITS entry {item!r}: rate must be >= 0 and burst >= 1")
        rates[role.strip()] = Rate(r, b)
    return rates


class RateLimiter:
    """A token bucket per key name, sized by the key's role."""

    __slots__ = ("_buckets", "_clock", "_rates")

    def __init__(self, rates: dict[str, Rate], clock: Callable[[], float] = time.monotonic) -> None:
        self._rates = rates
        self._buckets: dict[str, list[float]] = {}  # name -> [tokens, last refill]
        self._clock = clock

    def acquire(self, name: str, role: str) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        rate = self._rates.get(role)
        if rate is None or rate.per_second <= 0:
            return 0.0
        now = self._clock()
        bucket = self._buckets.get(name)
        if bucket is None:
            self._buckets[name] = [rate.burst - 1.0, now]
            return 0.0
        tokens = min(rate.burst, bucket[0] + (now - bucket[1]) * rate.per_second)
        bucket[1] = now
        if tokens >= 1.0:
            bucket[0] = tokens - 1.0
            return 0.0
        bucket[0] = tokens
        return (1.0 - tokens) / rate.per_second


def retry_after_header(wait_s: float) -> str:
    """Retry-After in whole seconds, at least 1."""
    return str(max(1, math.ceil(wait_s)))
