"""The stack under test, started like `make up` (the launcher, own servers, free ports, temp data)."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from deploy.local.config import ROOT
from deploy.local.procs import stop_children
from deploy.local.testing import Launched, launch

#: Provider keys are dropped so that the offline provider answers (instantly, labelled offline).
DROPPED_ENV = (
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GOOGLE_GEMINI_BASE_URL",
    "NATS_URL",
    "DATABASE_URL",
)


@dataclass
class Stack:
    """A running stack: its launcher handle and where its servers are."""

    run: Launched
    nats_url: str
    database_url: str
    api_key: str

    @property
    def http(self) -> str:
        """The gateway's HTTP base URL."""
        return self.run.http

    def addr(self, service: str) -> str:
        """A service's gRPC address."""
        return self.run.addrs[service]

    def pids(self) -> dict[str, int]:
        """Root PID of every server and service the launcher started."""
        return self.run.pids()


@contextmanager
def started(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[Stack]:
    """The whole stack via the launcher; stopped (by the launcher, by PID) at the end."""
    for k in DROPPED_ENV:
        os.environ.pop(k, None)
    # The services' shared secret; the bench (and an extra worker) inherit it to call backends.
    os.environ.setdefault("LABS_INTERNAL_TOKEN", secrets.token_urlsafe(32))
    key = secrets.token_urlsafe(24)
    bench_env = {
        "LOG_LEVEL": "WARNING",
        # The client is an operator (submit, read) with no rate limit: the limiter still runs.
        "LABS_API_KEYS": f"bench:operator:{key}",
        "RATE_LIMITS": "viewer=0/1,operator=0/1,admin=0/1",
        **(env or {}),
    }
    with launch(data_dir, bench_env, ready_timeout=300) as run:
        yield Stack(run, run.nats_url, run.database_url, key)


@contextmanager
def extra_worker(stack: Stack, data_dir: Path) -> Iterator[int]:
    """A second runtime process in the worker role on the same durable consumer; stopped by PID."""
    env = {
        **os.environ,
        "NATS_URL": stack.nats_url,
        "DATABASE_URL": stack.database_url,
        "RUNTIME_ROLE": "worker",
        "TOOLS_ADDR": stack.addr("tools"),
        "LLM_ADDR": stack.addr("llm"),
        "RUNTIME_ADDR": stack.addr("runtime"),
        "LOG_LEVEL": "WARNING",
    }
    log = (data_dir / "worker2.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.runtime"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        time.sleep(3.0)  # connect and bind to the durable consumer
        if proc.poll() is not None:
            raise RuntimeError(f"the extra worker exited with {proc.returncode}: see {log.name}")
        yield proc.pid
    finally:
        stop_children([proc], 15)
        log.close()
