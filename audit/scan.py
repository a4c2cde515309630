"""Bounded reads of the log: the events on some subjects between two sequences, then stop."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

from labs_core.eventlog import EventLog, StoredEvent


async def scan(
    eventlog: EventLog, subjects: Sequence[str], start: int, end: int, *, batch_size: int = 2000
) -> AsyncIterator[list[StoredEvent]]:
    """Batches of the events on `subjects` with start <= sequence <= end, in order.

    The number of matching events from `start` to the head is counted first, so the scan stops
    after that many even when nothing matches up to `end` (a plain subscription would wait).
    """
    if end < start:
        return
    pending = await eventlog.pending_count(subjects, start)
    if pending == 0:
        return
    seen = 0
    async for batch in eventlog.subscribe(subjects, start, batch_size=batch_size):
        seen += len(batch)
        inside = [e for e in batch if e.sequence <= end]
        if inside:
            yield inside
        if seen >= pending or batch[-1].sequence >= end:
            return
