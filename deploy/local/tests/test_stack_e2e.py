"""`python -m deploy.local.launcher up` end to end: the whole stack starts, serves and stops.

Skipped only while a service has no `services/<name>/__main__.py` yet.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.config import ADDR_ENV, ROOT, SERVICES
from deploy.local.procs import alive
from deploy.local.tests.test_launcher import free_ports

MISSING = [n for n in SERVICES if not (ROOT / "services" / n / "__main__.py").exists()]

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"services not written yet: {', '.join(MISSING)}"),
    pytest.mark.timeout(300),
]


@dataclass
class Launched:
    """A launcher running `up` in a temporary data folder on free ports."""

    proc: subprocess.Popen[str]
    data_dir: Path
    http_port: int
    addrs: dict[str, str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def read_until(self, prefix: str, timeout: float) -> str:
        """The first output line starting with `prefix`; fails if the launcher ends first."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            assert line, f"launcher ended before printing {prefix!r}:\n" + "".join(self.seen)
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def pids(self) -> dict[str, int]:
        """The PIDs of the servers and services it started, from its records."""
        return {p.stem: int(p.read_text().split()[0]) for p in (self.data_dir / "run").glob("*.pid")}


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)
    into.put("")


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Launched]:
    """`up` started and ready; stopped in order (SIGINT) at the end if a test left it running."""
    ports = free_ports(8)
    data_dir = tmp_path / "data"
    addrs = {name: f"127.0.0.1:{port}" for name, port in zip(SERVICES, ports[3:], strict=True)}
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    env |= {
        "LABS_DATA_DIR": str(data_dir),
        "LABS_NATS_PORT": str(ports[0]),
        "LABS_PG_PORT": str(ports[1]),
        "HTTP_PORT": str(ports[2]),
        **{ADDR_ENV[name]: addr for name, addr in addrs.items()},
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.launcher", "up"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = Launched(proc, data_dir, ports[2], addrs)
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, run.lines), daemon=True).start()
    try:
        run.read_until("ready:", 240)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_up_serves_every_service_and_sigint_stops_every_child(launched: Launched) -> None:
    pids = launched.pids()
    assert sorted(pids) == sorted(["nats", "postgres", *SERVICES])
    for name, addr in launched.addrs.items():
        with grpc.insecure_channel(addr) as ch:
            resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert resp.status == health_pb2.HealthCheckResponse.SERVING, name
    with urllib.request.urlopen(f"http://127.0.0.1:{launched.http_port}/api/health", timeout=10) as http:
        assert http.status == 200
    for name in SERVICES:
        assert (launched.data_dir / "logs" / f"{name}.log").stat().st_size > 0

    launched.proc.send_signal(signal.SIGINT)
    assert launched.proc.wait(60) == 0, "".join(launched.seen)
    assert [name for name, pid in pids.items() if alive(pid)] == []
    assert launched.pids() == {}


def test_a_service_that_dies_is_reported_and_the_rest_is_stopped(launched: Launched) -> None:
    pids = launched.pids()
    os.kill(pids["llm"], signal.SIGKILL)
    launched.read_until("error: llm exited with code -9", 30)
    assert launched.proc.wait(60) == 1
    assert [name for name, pid in pids.items() if alive(pid)] == []
