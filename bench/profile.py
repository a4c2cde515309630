"""A py-spy profile of one process while a load runs: a flame graph (SVG) and a text summary."""

from __future__ import annotations

import collections
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any


def py_spy() -> str | None:
    """The py-spy binary of the bench extra, if installed."""
    cand = Path(sys.executable).parent / "py-spy"
    return str(cand) if cand.exists() else shutil.which("py-spy")


def start(pid: int, out_base: Path, duration_s: int) -> list[subprocess.Popen[bytes]]:
    """Two samplers (SVG and collapsed stacks) on `pid` for `duration_s`, not pausing it."""
    exe = py_spy()
    if exe is None:
        return []
    procs = []
    for fmt, suffix in (("flamegraph", ".svg"), ("raw", ".txt")):
        procs.append(
            subprocess.Popen(
                [
                    exe,
                    "record",
                    "--pid",
                    str(pid),
                    "--duration",
                    str(duration_s),
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--format",
                    fmt,
                    "-o",
                    str(out_base) + suffix,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return procs


def finish(procs: list[subprocess.Popen[bytes]], out_base: Path, top: int = 25) -> dict[str, Any]:
    """Wait for the samplers; the hottest frames (self and inclusive) from the collapsed stacks."""
    for p in procs:
        try:
            p.wait(120)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    raw = Path(str(out_base) + ".txt")
    if not raw.exists():
        return {"error": "py-spy produced nothing (not installed, or not permitted to attach)"}
    self_n: collections.Counter[str] = collections.Counter()
    incl: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        if not stack or not n.isdigit():
            continue
        k = int(n)
        total += k
        frames = stack.split(";")
        self_n[_short(frames[-1])] += k
        for f in {_short(f) for f in frames}:
            incl[f] += k
    summary = {
        "samples": total,
        "self_top": [(f, round(100 * c / total, 1)) for f, c in self_n.most_common(top)] if total else [],
        "inclusive_top": [(f, round(100 * c / total, 1)) for f, c in incl.most_common(top)] if total else [],
        "svg": str(out_base) + ".svg",
        "collapsed": str(raw),
    }
    return summary


def _short(frame: str) -> str:
    # "func (path/to/module.py:123)" -> "func (module.py)"
    name, _, where = frame.partition(" (")
    file = where.rsplit(":", 1)[0].rsplit("/", 2)
    return f"{name} ({'/'.join(file[-2:])})"
