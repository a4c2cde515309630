"""Export a time range of the log as JSON lines."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

from audit.events import to_json
from audit.scan import scan
from labs_core.eventlog import EventLog


async def sequence_range(eventlog: EventLog, since: datetime, until: datetime) -> tuple[int, int]:
    """The sequences appended in [since, until) by the log's own clock (start > end when none)."""
    start = await eventlog.sequence_at(since)
    if start is None:
        return 1, 0
    after = await eventlog.sequence_at(until)
    end = after - 1 if after is not None else await eventlog.last_sequence()
    return start, end


async def export_lines(
    eventlog: EventLog, since: datetime, until: datetime, subject_filter: str = ""
) -> AsyncIterator[str]:
    """One JSON object per event appended in [since, until) on `subject_filter` (default: all)."""
    if until <= since:
        return
    start, end = await sequence_range(eventlog, since, until)
    subjects = [subject_filter or f"{eventlog.prefix}.>"]
    async for batch in scan(eventlog, subjects, start, end):
        for stored in batch:
            yield json.dumps(to_json(stored), ensure_ascii=False, separators=(",", ":"))


def parse_time(text: str, *, now: datetime) -> datetime:
    """An ISO 8601 time (naive = UTC), or a duration before now such as `15m`, `2h`, `7d`."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    t = text.strip()
    if t and t[-1] in units and t[:-1].isdigit():
        return now - timedelta(seconds=int(t[:-1]) * units[t[-1]])
    parsed = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=now.tzinfo)
