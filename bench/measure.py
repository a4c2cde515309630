"""Measurement helpers: percentiles, per-process CPU and memory from /proc, bounded load loops."""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

CLK_TCK = os.sysconf("SC_CLK_TCK")


def percentiles(values: Sequence[float], ps: Iterable[float] = (50, 95, 99)) -> dict[str, float]:
    """Nearest-rank percentiles (and n, mean); empty input gives an empty dict."""
    if not values:
        return {}
    s = sorted(values)
    out = {f"p{p:g}": s[max(0, math.ceil(p / 100 * len(s)) - 1)] for p in ps}
    out["mean"] = sum(s) / len(s)
    out["n"] = len(s)
    return out


def to_ms(p: dict[str, float]) -> dict[str, float]:
    """Percentiles in seconds as milliseconds (the count `n` unchanged)."""
    return {k: (v if k == "n" else round(v * 1000, 3)) for k, v in p.items()}


def _children() -> dict[int, list[int]]:
    kids: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = _stat_fields(int(entry))
        except OSError:
            continue
        kids.setdefault(int(stat[2]), []).append(int(entry))
    return kids


def _stat_fields(pid: int) -> list[str]:
    # The command name (field 2) may hold spaces: split after its closing parenthesis.
    raw = open(f"/proc/{pid}/stat").read()  # noqa: SIM115 - tiny procfs read
    rest = raw[raw.rindex(")") + 2 :].split()
    return [str(pid), *rest]  # index i holds field i+2 of proc(5): 1 state, 2 ppid, 12 utime


def descendants(roots: Iterable[int]) -> set[int]:
    """The roots and every live process below them (PostgreSQL backends are children of postmaster)."""
    kids = _children()
    seen: set[int] = set()
    todo = list(roots)
    while todo:
        pid = todo.pop()
        if pid in seen or not os.path.exists(f"/proc/{pid}"):
            continue
        seen.add(pid)
        todo.extend(kids.get(pid, []))
    return seen


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process plus those of its reaped children, in seconds (0 if gone)."""
    try:
        f = _stat_fields(pid)
    except OSError:
        return 0.0
    # After the pid and state: ppid.. ; utime, stime, cutime, cstime are fields 14-17 (1-based).
    utime, stime, cutime, cstime = (int(x) for x in f[12:16])
    return (utime + stime + cutime + cstime) / CLK_TCK


def status_kb(pid: int, key: str) -> int:
    """A `Vm*` line of /proc/<pid>/status in kB (0 if gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class CpuSnapshot:
    """CPU seconds of every process of each group (a service, a server and its children)."""

    by_pid: dict[int, tuple[str, float]]

    @classmethod
    def take(cls, groups: dict[str, int]) -> CpuSnapshot:
        """Snapshot each named root PID and its descendants."""
        by_pid: dict[int, tuple[str, float]] = {}
        for name, root in groups.items():
            for pid in descendants([root]):
                by_pid[pid] = (name, cpu_seconds(pid))
        return cls(by_pid)

    def delta(self, later: CpuSnapshot) -> dict[str, float]:
        """CPU seconds spent per group between the two snapshots (new processes count whole)."""
        out: dict[str, float] = {}
        for pid, (name, after) in later.by_pid.items():
            before = self.by_pid.get(pid, (name, 0.0))[1]
            out[name] = out.get(name, 0.0) + max(0.0, after - before)
        return out


def memory_mb(groups: dict[str, int]) -> dict[str, dict[str, float]]:
    """RSS now and peak RSS (VmHWM) of each root process, in MB."""
    return {
        name: {"rss_mb": status_kb(pid, "VmRSS") / 1024, "hwm_mb": status_kb(pid, "VmHWM") / 1024}
        for name, pid in groups.items()
    }


async def open_loop(
    n: int, rate: float, call: Callable[[int], Awaitable[None]], *, max_in_flight: int = 2000
) -> float:
    """Offer `n` calls at `rate`/s (rate 0: as fast as `max_in_flight` allows); returns seconds taken."""
    sem = asyncio.Semaphore(max_in_flight)
    tasks: list[asyncio.Task[None]] = []
    t0 = time.perf_counter()

    async def one(i: int) -> None:
        try:
            await call(i)
        finally:
            sem.release()

    for i in range(n):
        if rate > 0:
            delay = t0 + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
        await sem.acquire()
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - t0


async def closed_loop(
    concurrency: int, n: int, call: Callable[[int], Awaitable[None]], *, time_limit_s: float
) -> tuple[int, float]:
    """`concurrency` callers doing up to `n` calls in all, within `time_limit_s`: (calls done, seconds)."""
    counter = iter(range(n))
    done = 0
    deadline = time.perf_counter() + time_limit_s

    async def caller() -> None:
        nonlocal done
        for i in counter:
            if time.perf_counter() > deadline:
                return
            await call(i)
            done += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    return done, time.perf_counter() - t0
