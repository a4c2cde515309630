"""The circuit breaker's states, driven by a fake clock."""

from __future__ import annotations

import pytest

from services.llm.domain.breaker import BreakerState, CircuitBreaker

pytestmark = pytest.mark.timeout(10)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_threshold_consecutive_failures() -> None:
    b = CircuitBreaker(3, 10.0, Clock())
    b.record_failure()
    b.record_failure()
    b.record_success()  # a success resets the count
    b.record_failure()
    b.record_failure()
    assert b.allow() and b.state is BreakerState.CLOSED
    b.record_failure()
    assert b.state is BreakerState.OPEN and b.is_open
    assert not b.allow()


def test_half_open_lets_one_probe_through_and_a_success_closes() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 10.0, clock)
    b.record_failure()
    clock.now += 9.9
    assert not b.allow()
    clock.now += 0.2
    assert b.state is BreakerState.HALF_OPEN and not b.is_open
    assert b.allow()  # the probe
    assert not b.allow() and b.is_open  # everyone else waits for it
    b.record_success()
    assert b.state is BreakerState.CLOSED and b.allow()


def test_failed_probe_opens_for_another_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(5, 10.0, clock)
    for _ in range(5):
        b.record_failure()
    clock.now += 10.0
    assert b.allow()
    b.record_failure()  # one failure is enough in half-open
    assert b.state is BreakerState.OPEN
    clock.now += 9.0
    assert not b.allow()
    clock.now += 1.0
    assert b.allow()


def test_an_abandoned_probe_frees_its_slot_after_a_cooldown() -> None:
    clock = Clock()
    b = CircuitBreaker(1, 10.0, clock)
    b.record_failure()
    clock.now += 10.0
    assert b.allow()  # the probe's caller is cancelled and never reports
    clock.now += 5.0
    assert not b.allow()
    clock.now += 5.0
    assert b.allow()
