"""Answers of a read model, memoised against the position of the projection that writes it.

A projection changes its tables only by applying events, and it moves its checkpoint when it
does; an answer computed at checkpoint N is therefore the answer for as long as the checkpoint
stays N. The cache keys each answer by its question and remembers the checkpoint it was computed
at: a later read at the same checkpoint gets the same answer without a query, one at a newer
checkpoint computes afresh. Answers that also depend on the clock (a window ending "now") take a
`max_age_s`, and say in themselves which window they are for.

Concurrent misses of one question share one computation (the first caller's); a failed
computation is not remembered. In a standby replica (another replica holds the projection's lock)
the checkpoint follows the active one's within the projector's standby poll, which bounds how
stale a cached answer can be there.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(slots=True)
class _Entry:
    version: int
    at: float
    answer: asyncio.Future[Any]


class ReadCache:
    """At most `max_entries` answers, least recently used evicted first; 0 entries disables it."""

    def __init__(
        self,
        version: Callable[[], int],
        *,
        max_entries: int = 512,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.version = version
        self.max_entries = max_entries
        self.clock = clock
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def get(
        self, key: Hashable, compute: Callable[[], Awaitable[T]], *, max_age_s: float | None = None
    ) -> T:
        """The answer to `key` at the projection's current checkpoint (computed if not known)."""
        if self.max_entries <= 0:
            return await compute()
        version = self.version()
        now = self.clock()
        entry = self._entries.get(key)
        if (
            entry is not None
            and entry.version == version
            and (max_age_s is None or now - entry.at < max_age_s)
        ):
            self._entries.move_to_end(key)
            self.hits += 1
        else:
            self.misses += 1
            # Its own task: a caller cancelled while waiting does not cancel the others' answer.
            task = asyncio.ensure_future(compute())
            entry = self._entries[key] = _Entry(version, now, task)
            self._entries.move_to_end(key)
            task.add_done_callback(functools.partial(self._settled, key))
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        answer: T = await asyncio.shield(entry.answer)
        return answer

    def _settled(self, key: Hashable, answer: asyncio.Future[Any]) -> None:
        """A failed computation is forgotten (and its error marked seen: its callers got it)."""
        if answer.cancelled() or answer.exception() is not None:
            entry = self._entries.get(key)
            if entry is not None and entry.answer is answer:
                del self._entries[key]
