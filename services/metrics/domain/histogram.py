"""Latency histogram with fixed log-spaced bucket bounds, and percentile estimates from it.

Bounds follow the Renard R20 series (20 per decade: 1, 1.12, 1.25, 1.4, 1.6, ... 9 ms, 10 ms, ...)
from 1 ms to 4,000,000 ms (~67 min). Bucket `i` holds latencies in (BOUNDS_MS[i-1], BOUNDS_MS[i]];
bucket 0 holds (0, 1 ms]; bucket len(BOUNDS_MS) is the overflow above the last bound.

Percentiles are estimated by linear interpolation inside the bucket that holds the wanted rank,
after narrowing that bucket to the window's observed [min, max] (both kept exactly). Error bound:
the true nearest-rank percentile v lies in that same bucket, so

    |estimate - v| <= upper - lower of the bucket <= max(MAX_RELATIVE_ERROR * v, 1 ms)

with MAX_RELATIVE_ERROR = (largest ratio of neighbouring bounds) - 1 ~= 0.143, for v up to the last
bound; in the overflow bucket the error is at most (max - last bound). A window whose latencies
are all equal is exact. Changing the bounds changes the meaning of stored bucket indexes, so it
needs a new migration that empties the rollups and a rebuild.
"""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping

_R20 = (100, 112, 125, 140, 160, 180, 200, 224, 250, 280, 315, 355, 400, 450, 500, 560, 630, 710, 800, 900)
_LAST_BOUND_MS = 4_000_000.0


def _bounds() -> tuple[float, ...]:
    out: list[float] = []
    for decade in range(7):
        for mantissa in _R20:
            b = mantissa * 10**decade / 100
            if b > _LAST_BOUND_MS:
                return tuple(out)
            out.append(float(b))
    return tuple(out)


#: Upper bounds of the buckets, in milliseconds, ascending.
BOUNDS_MS: tuple[float, ...] = _bounds()
#: Index of the overflow bucket (latencies above the last bound).
OVERFLOW_INDEX = len(BOUNDS_MS)
#: Worst relative width of a bucket: the documented error bound of a percentile estimate.
MAX_RELATIVE_ERROR: float = max(b / a for a, b in itertools.pairwise(BOUNDS_MS)) - 1.0


def bucket_index(latency_ms: float) -> int:
    """The bucket a latency falls in: the first whose upper bound is >= the latency."""
    return bisect.bisect_left(BOUNDS_MS, latency_ms)


def bucket_range(index: int, max_ms: float) -> tuple[float, float]:
    """Lower and upper bound of a bucket; the overflow bucket ends at the observed maximum."""
    lower = 0.0 if index == 0 else BOUNDS_MS[index - 1]
    upper = BOUNDS_MS[index] if index < OVERFLOW_INDEX else max(max_ms, lower)
    return lower, upper


def error_bound_ms(true_ms: float) -> float:
    """The most a percentile estimate can be off from the true value `true_ms` (below the last bound)."""
    return max(MAX_RELATIVE_ERROR * true_ms, BOUNDS_MS[0])


def percentile(counts: Mapping[int, int], q: float, min_ms: float, max_ms: float) -> float:
    """Estimate the q-quantile (0 < q <= 1) of the latencies counted per bucket index.

    `min_ms`/`max_ms` are the exact extremes of the same latencies; 0.0 when nothing was counted.
    """
    n = sum(c for c in counts.values() if c > 0)
    if n == 0:
        return 0.0
    rank = q * n
    seen = 0
    for index in sorted(counts):
        c = counts[index]
        if c <= 0:
            continue
        if seen + c >= rank:
            lower, upper = bucket_range(index, max_ms)
            lower, upper = max(lower, min_ms), min(upper, max_ms)
            if upper < lower:  # min/max from another source disagree; trust the bucket
                lower, upper = bucket_range(index, max_ms)
            return lower + (upper - lower) * max(0.0, (rank - seen) / c)
        seen += c
    return max_ms
