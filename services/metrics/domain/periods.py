"""The periods GetMetrics answers for, their rollup grain, series bucket and window.

Rollups are kept at several grains (GRAINS_S). Each period reads the coarsest grain that still
divides its series bucket, so every period reads a bounded number of rows per key (1h: 60 minute
rows, 24h: 96 quarter-hour rows, 7d: 168 hour rows, 30d: 720 hour rows) however busy the system.

The window ends at the end of the grain bucket holding `now` and spans exactly the period, so
the series has exactly period / bucket points, the last one covering `now`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from labs_core.errors import InvalidArgument

#: Rollup grains the projection writes, in seconds (minute, quarter-hour, hour).
GRAINS_S: tuple[int, ...] = (60, 900, 3600)


@dataclass(frozen=True, slots=True)
class Period:
    """A queryable period: its name, length, the rollup grain it reads and its series bucket."""

    name: str
    length: timedelta
    grain_s: int
    bucket: timedelta

    @property
    def bucket_seconds(self) -> int:
        """The series bucket in seconds."""
        return int(self.bucket.total_seconds())

    @property
    def buckets(self) -> int:
        """How many points the series has."""
        return int(self.length / self.bucket)

    def window(self, now: datetime) -> Window:
        """The window this period covers when asked at `now`."""
        epoch = int(now.timestamp())
        end = datetime.fromtimestamp(epoch - epoch % self.grain_s + self.grain_s, UTC)
        return Window(end - self.length, end)


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time range [start, end)."""

    start: datetime
    end: datetime


PERIODS: dict[str, Period] = {
    p.name: p
    for p in (
        Period("1h", timedelta(hours=1), 60, timedelta(minutes=1)),
        Period("24h", timedelta(hours=24), 900, timedelta(minutes=15)),
        Period("7d", timedelta(days=7), 3600, timedelta(hours=1)),
        Period("30d", timedelta(days=30), 3600, timedelta(days=1)),
    )
}
DEFAULT_PERIOD = "24h"


def parse_period(text: str) -> Period:
    """The period named `text` (empty: the default); InvalidArgument on `period` otherwise."""
    name = text.strip() or DEFAULT_PERIOD
    try:
        return PERIODS[name]
    except KeyError:
        allowed = ", ".join(PERIODS)
        raise InvalidArgument("period", f"must be one of {allowed}; got {text!r}") from None


def floor_to_grain(at_ns: int, grain_s: int) -> datetime:
    """Start of the grain bucket holding an event time given in Unix nanoseconds."""
    seconds = at_ns // 1_000_000_000
    return datetime.fromtimestamp(seconds - seconds % grain_s, UTC)
