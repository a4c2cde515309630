"""`python -m deploy.local.launcher up` end to end: the whole stack starts, serves and stops.

Skipped only while a service has no `services/<name>/__main__.py` yet.
"""

from __future__ import annotations

import os
import signal
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local.config import ROOT, SERVICES
from deploy.local.procs import alive
from deploy.local.testing import Launched, launch

MISSING = [n for n in SERVICES if not (ROOT / "services" / n / "__main__.py").exists()]

pytestmark = [
    pytest.mark.skipif(bool(MISSING), reason=f"services not written yet: {', '.join(MISSING)}"),
    pytest.mark.timeout(300),
]


@pytest.fixture
def launched(tmp_path: Path) -> Iterator[Launched]:
    """`up` started on its own servers and ready; stopped in order (SIGINT) at the end."""
    with launch(tmp_path / "data") as run:
        yield run


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
