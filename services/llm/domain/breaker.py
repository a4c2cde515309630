"""A consecutive-failure circuit breaker with a half-open probe after a cool-down."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import Enum


class BreakerState(Enum):
    """Closed: calls pass. Open: calls are refused. Half-open: one probe call is let through."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after `threshold` consecutive failures; after `cooldown_s` lets one probe through.

    A successful probe closes it, a failed one opens it for another cool-down. A probe whose
    caller never reports back (cancelled) holds the half-open slot for one cool-down at most.
    """

    def __init__(
        self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.threshold = max(1, threshold)
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_at: float | None = None

    @property
    def state(self) -> BreakerState:
        """The state as of now."""
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at < self.cooldown_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    @property
    def is_open(self) -> bool:
        """True while calls are refused outright (open, or half-open with a probe in flight)."""
        st = self.state
        if st is BreakerState.HALF_OPEN:
            return not self._probe_slot_free()
        return st is BreakerState.OPEN

    def allow(self) -> bool:
        """May a call go through now? In half-open this takes the single probe slot."""
        st = self.state
        if st is BreakerState.CLOSED:
            return True
        if st is BreakerState.OPEN or not self._probe_slot_free():
            return False
        self._probe_at = self._clock()
        return True

    def record_success(self) -> None:
        """A call succeeded: close."""
        self._failures = 0
        self._opened_at = None
        self._probe_at = None

    def record_failure(self) -> None:
        """A call failed: count it; open (again) at the threshold or when a probe failed."""
        self._failures += 1
        if self._opened_at is not None or self._failures >= self.threshold:
            self._opened_at = self._clock()
            self._probe_at = None

    def _probe_slot_free(self) -> bool:
        return self._probe_at is None or self._clock() - self._probe_at >= self.cooldown_s
