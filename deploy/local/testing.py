"""Driving `python -m deploy.local.launcher up` from tests: start it, read its output, stop it."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from deploy.local.config import ADDR_ENV, ROOT, SERVICES
from deploy.local.servers import free_port


def free_ports(n: int) -> list[int]:
    """`n` distinct ports free on loopback right now."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port())
    return sorted(ports)


@dataclass
class Launched:
    """A launcher running `up` in a data folder of its own, on free ports."""

    proc: subprocess.Popen[str]
    data_dir: Path
    http_port: int
    addrs: dict[str, str]
    #: Where its NATS and PostgreSQL are (given in `env`, or the ones it starts on chosen ports).
    nats_url: str = ""
    database_url: str = ""
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)
    #: The variables given to the launcher on top of the inherited environment.
    env: dict[str, str] = field(default_factory=dict)

    @property
    def http(self) -> str:
        """Base URL of the gateway's HTTP side."""
        return f"http://127.0.0.1:{self.http_port}"

    def read_until(self, prefix: str, timeout: float) -> str:
        """The first output line starting with `prefix`; fails if the launcher ends first."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.lines.get(timeout=max(0.1, deadline - time.monotonic()))
            if not line:
                raise AssertionError(f"launcher ended before printing {prefix!r}:\n" + "".join(self.seen))
            self.seen.append(line)
            if line.startswith(prefix):
                return line

    def pids(self) -> dict[str, int]:
        """The PIDs of the servers and services it started, from its records."""
        return {p.stem: int(p.read_text().split()[0]) for p in (self.data_dir / "run").glob("*.pid")}

    def log(self, service: str) -> str:
        """The service's log so far."""
        p = self.data_dir / "logs" / f"{service}.log"
        return p.read_text(errors="replace") if p.exists() else ""


def _pump(stream: IO[str], into: queue.Queue[str]) -> None:
    for line in stream:
        into.put(line)
    into.put("")


@contextmanager
def launch(
    data_dir: Path, env: Mapping[str, str] | None = None, *, ready_timeout: float = 240
) -> Iterator[Launched]:
    """`up` started and ready; stopped with SIGINT (then SIGKILL) at the end if still running.

    Without NATS_URL/DATABASE_URL in `env` it starts its own servers on free ports.
    """
    ports = free_ports(8)
    addrs = {name: f"127.0.0.1:{port}" for name, port in zip(SERVICES, ports[3:], strict=True)}
    base = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "DATABASE_URL")}
    base |= {
        "LABS_DATA_DIR": str(data_dir),
        "LABS_NATS_PORT": str(ports[0]),
        "LABS_PG_PORT": str(ports[1]),
        "HTTP_PORT": str(ports[2]),
        **{ADDR_ENV[name]: addr for name, addr in addrs.items()},
        **(env or {}),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.launcher", "up"],
        cwd=ROOT,
        env=base,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    run = Launched(
        proc,
        data_dir,
        ports[2],
        addrs,
        nats_url=base.get("NATS_URL") or f"nats://127.0.0.1:{ports[0]}",
        database_url=base.get("DATABASE_URL") or f"postgresql://postgres@127.0.0.1:{ports[1]}/labs",
        env=dict(env or {}),
    )
    assert proc.stdout is not None
    threading.Thread(target=_pump, args=(proc.stdout, run.lines), daemon=True).start()
    try:
        run.read_until("ready:", ready_timeout)
        yield run
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
