"""Schedules as plain values: cron + timezone checks, due occurrences and the missed-occurrence policy.

Policy after downtime (per schedule, `missed_policy`):
- ``latest`` (default): of the occurrences missed, run only the most recent one, once;
- ``all``: run every missed occurrence, oldest first (at most MAX_CATCH_UP per pass);
- ``none``: run an occurrence only while it is on time (within the grace period); missed ones
  are recorded as skipped.
An occurrence is *missed* when the scheduler sees it more than the grace period after its time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from labs_core.errors import InvalidArgument

MISSED_POLICIES = ("latest", "all", "none")
MAX_CATCH_UP = 100
#: Occurrences looked at in one pass, at most (a schedule every minute down for ~a week).
MAX_SCAN = 10_000


def check_timezone(name: str, field: str = "arguments.timezone") -> ZoneInfo:
    """The zone, or InvalidArgument naming the field."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise InvalidArgument(field, f"{name!r} is not an IANA time zone") from e


def _croniter(expr: str, start: datetime) -> Any:
    """A croniter, imported on first use (~3 MB, needed only once a schedule exists)."""
    from croniter import croniter

    return croniter(expr, start)


def check_cron(expr: str, field: str = "arguments.cron") -> str:
    """The expression if croniter accepts it as five fields; InvalidArgument naming the field otherwise."""
    expr = " ".join(expr.split())
    if len(expr.split(" ")) != 5:
        raise InvalidArgument(field, f"{expr!r} must have five fields: minute hour day month weekday")
    from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError

    try:
        _croniter(expr, datetime(2000, 1, 1, tzinfo=UTC)).get_next(datetime)
    except (CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, ValueError, KeyError) as e:
        raise InvalidArgument(field, f"{expr!r} is not a valid cron expression: {e}") from e
    return expr


def iso_utc(t: datetime) -> str:
    """UTC ISO 8601 with a Z, second precision (the occurrence's name in request ids)."""
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def request_id(schedule_id: str, occurrence: datetime) -> str:
    """The runtime request id of one occurrence: two schedulers firing it make one execution."""
    return f"schedule:{schedule_id}:{iso_utc(occurrence)}"


def occurrences_after(
    cron: str, tz: str, after: datetime, *, until: datetime, limit: int = MAX_SCAN
) -> list[datetime]:
    """Occurrences strictly after `after` and at or before `until`, in UTC."""
    it = _croniter(cron, after.astimezone(ZoneInfo(tz)))
    out: list[datetime] = []
    while len(out) < limit:
        nxt = it.get_next(datetime).astimezone(UTC)
        if nxt > until:
            break
        out.append(nxt)
    return out


def next_occurrences(cron: str, tz: str, after: datetime, count: int) -> list[datetime]:
    """The next `count` occurrences after `after`, in UTC."""
    it = _croniter(cron, after.astimezone(ZoneInfo(tz)))
    return [it.get_next(datetime).astimezone(UTC) for _ in range(count)]


@dataclass(frozen=True, slots=True)
class Fire:
    """Submit this occurrence; `skipped_before` earlier missed ones are passed over with it."""

    occurrence: datetime
    skipped_before: int = 0


@dataclass(frozen=True, slots=True)
class Skip:
    """Pass over `count` occurrences up to and including `up_to`."""

    up_to: datetime
    count: int


def plan(due: list[datetime], now: datetime, policy: str, grace: timedelta) -> list[Fire | Skip]:
    """What to do with the due occurrences (oldest first) under the schedule's missed policy."""
    if not due:
        return []
    if policy == "all":
        if len(due) > MAX_CATCH_UP:
            dropped = len(due) - MAX_CATCH_UP
            return [Skip(due[dropped - 1], dropped), *(Fire(o) for o in due[dropped:])]
        return [Fire(o) for o in due]
    if policy == "none":
        if now - due[-1] <= grace:
            return [Fire(due[-1], len(due) - 1)]
        return [Skip(due[-1], len(due))]
    return [Fire(due[-1], len(due) - 1)]
