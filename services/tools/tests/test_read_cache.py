"""ReadCache: answers memoised against a projection's checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from services.tools.service_layer.read_cache import ReadCache


class Source:
    """A read model stand-in that counts its computations (the cache's logic needs no database;
    its use against the listings read model is covered in test_market_tools)."""

    def __init__(self) -> None:
        self.version = 1
        self.calls = 0
        self.gate: asyncio.Event | None = None
        self.fail = False

    async def compute(self) -> tuple[int, int]:
        self.calls += 1
        if self.gate is not None:
            await self.gate.wait()
        if self.fail:
            raise RuntimeError("read model down")
        return (self.version, self.calls)


async def test_the_same_question_at_the_same_checkpoint_is_answered_once() -> None:
    src = Source()
    cache = ReadCache(lambda: src.version)
    assert await cache.get("q", src.compute) == (1, 1)
    assert await cache.get("q", src.compute) == (1, 1)
    assert await cache.get("other", src.compute) == (1, 2)
    src.version = 2  # the projection applied an event: every answer is recomputed
    assert await cache.get("q", src.compute) == (2, 3)
    assert (cache.hits, cache.misses) == (1, 3)


async def test_an_answer_older_than_its_max_age_is_recomputed() -> None:
    src = Source()
    now = [100.0]
    cache = ReadCache(lambda: src.version, clock=lambda: now[0])
    assert await cache.get("q", src.compute, max_age_s=1.0) == (1, 1)
    now[0] += 0.5
    assert await cache.get("q", src.compute, max_age_s=1.0) == (1, 1)
    now[0] += 0.6
    assert await cache.get("q", src.compute, max_age_s=1.0) == (1, 2)


async def test_concurrent_misses_share_one_computation_and_a_cancelled_caller_leaves_it_running() -> None:
    src = Source()
    src.gate = asyncio.Event()
    cache = ReadCache(lambda: src.version)
    first = asyncio.create_task(cache.get("q", src.compute))
    others = [asyncio.create_task(cache.get("q", src.compute)) for _ in range(5)]
    await asyncio.sleep(0.01)
    first.cancel()
    await asyncio.sleep(0.01)
    src.gate.set()
    assert await asyncio.gather(*others) == [(1, 1)] * 5
    assert src.calls == 1
    with pytest.raises(asyncio.CancelledError):
        await first


async def test_a_failed_computation_reaches_its_callers_and_is_not_remembered() -> None:
    src = Source()
    src.fail = True
    cache = ReadCache(lambda: src.version)
    with pytest.raises(RuntimeError, match="read model down"):
        await cache.get("q", src.compute)
    assert len(cache) == 0
    src.fail = False
    assert await cache.get("q", src.compute) == (1, 2)


async def test_least_recently_used_answers_are_evicted_and_zero_entries_disables() -> None:
    src = Source()
    cache = ReadCache(lambda: src.version, max_entries=2)
    await cache.get("a", src.compute)
    await cache.get("b", src.compute)
    await cache.get("a", src.compute)  # a is now the most recent
    await cache.get("c", src.compute)  # evicts b
    assert len(cache) == 2
    assert await cache.get("a", src.compute) == (1, 1)
    assert await cache.get("b", src.compute) == (1, 4)

    off = ReadCache(lambda: src.version, max_entries=0)
    await off.get("a", src.compute)
    await off.get("a", src.compute)
    assert src.calls == 6 and len(off) == 0
