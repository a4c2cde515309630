"""Unit tests of the pure parts: histogram and percentiles, periods and windows, batch folding."""

from __future__ import annotations

import itertools
import math
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from labs_core.errors import InvalidArgument
from services.metrics.domain.facts import FinalStatus, Finished, MetricUpdated, Requested, ToolCalled
from services.metrics.domain.histogram import (
    BOUNDS_MS,
    MAX_RELATIVE_ERROR,
    OVERFLOW_INDEX,
    bucket_index,
    error_bound_ms,
    percentile,
)
from services.metrics.domain.periods import PERIODS, parse_period
from services.metrics.domain.rollups import RollupBatch


def test_bounds_are_log_spaced_and_documented_error_holds() -> None:
    assert BOUNDS_MS[0] == 1.0 and BOUNDS_MS[-1] == 4_000_000.0
    assert all(a < b for a, b in itertools.pairwise(BOUNDS_MS))
    assert 0.14 < MAX_RELATIVE_ERROR < 0.1429


@pytest.mark.parametrize(
    ("ms", "index"),
    [(0.0, 0), (0.5, 0), (1.0, 0), (1.0001, 1), (1.12, 1), (10.0, 20), (10.5, 21), (4e6, OVERFLOW_INDEX - 1)],
)
def test_bucket_index_is_upper_inclusive(ms: float, index: int) -> None:
    assert bucket_index(ms) == index


def test_bucket_index_overflow() -> None:
    assert bucket_index(4e6 + 1) == OVERFLOW_INDEX


def _histogram(values: list[float]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for v in values:
        counts[bucket_index(v)] = counts.get(bucket_index(v), 0) + 1
    return counts


def test_single_value_is_exact() -> None:
    counts = _histogram([123.456] * 5)
    for q in (0.5, 0.95, 0.99):
        assert percentile(counts, q, 123.456, 123.456) == pytest.approx(123.456, abs=1e-9)


def test_empty_histogram_is_zero() -> None:
    assert percentile({}, 0.5, 0.0, 0.0) == 0.0


@pytest.mark.parametrize("seed", range(20))
def test_estimates_within_documented_bound_of_nearest_rank(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(1, 400)
    values = [math.exp(rng.uniform(math.log(0.2), math.log(5e6))) for _ in range(n)]
    counts = _histogram(values)
    ordered = sorted(values)
    for q in (0.5, 0.9, 0.95, 0.99):
        true = ordered[math.ceil(q * n) - 1]
        est = percentile(counts, q, ordered[0], ordered[-1])
        bound = ordered[-1] - BOUNDS_MS[-1] if true > BOUNDS_MS[-1] else error_bound_ms(true)
        assert abs(est - true) <= bound + 1e-9, (q, true, est)


def test_periods_and_default() -> None:
    assert parse_period("").name == "24h"
    assert parse_period(" 7d ").name == "7d"
    assert {p: PERIODS[p].buckets for p in PERIODS} == {"1h": 60, "24h": 96, "7d": 168, "30d": 30}
    with pytest.raises(InvalidArgument) as e:
        parse_period("2h")
    assert e.value.field == "period"
    assert "1h, 24h, 7d, 30d" in e.value.reason


def test_window_ends_after_the_grain_bucket_holding_now() -> None:
    now = datetime(2031, 3, 14, 12, 34, 56, 789000, tzinfo=UTC)
    w = PERIODS["24h"].window(now)
    assert w.end == datetime(2031, 3, 14, 12, 45, tzinfo=UTC)
    assert w.end - w.start == timedelta(hours=24)
    exact = datetime(2031, 3, 14, 13, 0, tzinfo=UTC)
    assert PERIODS["7d"].window(exact).end == datetime(2031, 3, 14, 14, 0, tzinfo=UTC)


NS = 1_000_000_000


def test_batch_attributes_and_ignores_a_second_terminal_event() -> None:
    b = RollupBatch({}, grains=(60,))
    b.add_all(
        [
            Requested("x", 1, 100 * NS, agent_type="MARKET"),
            ToolCalled("x", 2, 101 * NS, tool="get_listings", error=True),
            Finished("x", 3, 102 * NS + 500, status=FinalStatus.COMPLETED),
            Finished("x", 4, 103 * NS, status=FinalStatus.FAILED, category="INTERNAL", message="late"),
            MetricUpdated("y", 5, 104 * NS, name="n", delta=Decimal("1.5")),
        ]
    )
    (key, cell), *rest = b.agents.items()
    assert not rest and key[2] == "MARKET"
    assert (cell.completed, cell.failed, cell.latency_count, cell.latency_sum_ns) == (1, 0, 1, 2 * NS + 500)
    assert not b.errors
    assert [k[2:] for k in b.tools] == [("MARKET", "get_listings")]
    assert [k[2:] for k in b.metrics] == [("UNKNOWN", "n")]
    assert b.states["x"].status is FinalStatus.COMPLETED and b.changed == {"x"}


def test_mapper_turns_events_into_facts() -> None:
    from labs.events.v1 import execution_pb2, llm_pb2

    from labs_core.eventlog import StoredEvent, new_event
    from services.metrics.domain.facts import ModelCalled
    from services.metrics.mapper import category_name, to_fact

    def stored(**payload: Any) -> StoredEvent:
        return StoredEvent(
            9, "p.execution.x.e", new_event("execution", "x", occurred_at_ns=5 * NS + 7, **payload)
        )

    req = to_fact(stored(execution_requested=execution_pb2.ExecutionRequested(agent_type=" market ")))
    assert req == Requested("x", 9, 5 * NS + 7, agent_type="MARKET")
    # The runtime's copy of a model call is not counted; the llm service's record is.
    assert (
        to_fact(stored(model_call_completed=execution_pb2.ModelCallCompleted(tokens_in=3, cost_usd=0.1)))
        is None
    )
    recorded = new_event(
        "llmcall",
        "call-1",
        correlation_id="x",
        occurred_at_ns=5 * NS + 7,
        model_call_recorded=llm_pb2.ModelCallRecorded(input_tokens=3, output_tokens=4, cost_usd=0.1),
    )
    model = to_fact(StoredEvent(10, "p.llmcall.call-1.model_call_recorded", recorded))
    assert model == ModelCalled("x", 10, 5 * NS + 7, tokens_in=3, tokens_out=4, cost_usd=Decimal("0.1"))
    failed = to_fact(
        stored(execution_failed=execution_pb2.ExecutionFailed(category=execution_pb2.ERROR_CATEGORY_BUDGET))
    )
    assert (
        isinstance(failed, Finished) and failed.category == "BUDGET" and failed.status is FinalStatus.FAILED
    )
    assert to_fact(stored(cancellation_requested=execution_pb2.CancellationRequested())) is None
    assert category_name(99) == "CATEGORY_99"
