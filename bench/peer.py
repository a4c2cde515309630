"""Celery + Redis measured in the same run: no-op task throughput and delay().get() round trip."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.measure import CpuSnapshot, memory_mb, percentiles
from deploy.local.config import ROOT
from deploy.local.procs import stop_children
from deploy.local.servers import free_port, wait_port


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    stop_children([proc], 20, sig)


@contextmanager
def redis_and_worker(tmp: Path, concurrency: int) -> Iterator[tuple[str, dict[str, int]]]:
    """redis-server (no persistence) on a free loopback port and a prefork Celery worker; stopped by PID."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server not found: `make bench` installs it (Debian package redis-server)")
    port = free_port()
    url = f"redis://127.0.0.1:{port}/0"
    redis = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp),
        ],
        stdout=(tmp / "redis.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        wait_port(port, 10, redis, "redis-server")
        env = {**os.environ, "BENCH_REDIS_URL": url}
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "bench.celery_app",
                "worker",
                "--concurrency",
                str(concurrency),
                "--pool",
                "prefork",
                "--loglevel",
                "WARNING",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            cwd=ROOT,
            env=env,
            stdout=(tmp / "celery.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        os.environ["BENCH_REDIS_URL"] = url
        yield url, {"redis": redis.pid, "celery": worker.pid}
    finally:
        if worker is not None:
            _stop(worker)
        _stop(redis)


def measure(tmp: Path, *, n: int, rtt_n: int, concurrency: int = 2) -> dict[str, Any]:
    """Throughput of `n` no-op tasks (all sent, then all awaited) and sequential delay().get() latency."""
    with redis_and_worker(tmp, concurrency) as (url, pids):
        import importlib

        import bench.celery_app as capp

        capp = importlib.reload(capp)  # picks BENCH_REDIS_URL up
        # Warm up: the worker is ready when a task comes back.
        deadline = time.monotonic() + 60
        while True:
            try:
                capp.noop.delay().get(timeout=5)
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
        for _ in range(20):
            capp.noop.delay().get(timeout=10)
        rtt: list[float] = []
        for _ in range(rtt_n):
            t = time.perf_counter()
            capp.noop.delay().get(timeout=10)
            rtt.append(time.perf_counter() - t)
        cpu0 = CpuSnapshot.take(pids)
        t0 = time.perf_counter()
        results = [capp.noop.delay() for _ in range(n)]
        for r in results:
            r.get(timeout=120)
        dt = time.perf_counter() - t0
        cpu = cpu0.delta(CpuSnapshot.take(pids))
        mem = memory_mb(pids)
        p = percentiles(rtt)
        return {
            "celery": _version("celery"),
            "redis_url_port": int(url.rsplit(":", 1)[1].split("/")[0]),
            "worker": f"prefork, concurrency {concurrency}",
            "tasks": n,
            "tasks_per_s": n / dt,
            "round_trip_ms": {k: (v if k == "n" else round(v * 1000, 3)) for k, v in p.items()},
            "cpu_ms_per_task_server_side": 1000 * sum(cpu.values()) / n,
            "cpu_s_by_process": {k: round(v, 3) for k, v in cpu.items()},
            "memory_mb": mem,
        }


def _version(dist: str) -> str:
    from importlib.metadata import version

    return version(dist)
