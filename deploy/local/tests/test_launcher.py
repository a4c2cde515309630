"""The launcher's server phase against real nats-server and PostgreSQL processes."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from nats.js.errors import NotFoundError

from deploy.local.config import ROOT, StackConfig
from deploy.local.launcher import Stack
from deploy.local.procs import LauncherError, alive
from deploy.local.testing import free_ports
from labs_core.eventlog import EventLog
from labs_core.testing import unique


def config(data_dir: Path, **env: str) -> StackConfig:
    """A configuration with its own data folder and free server ports."""
    nats_port, pg_port = free_ports(2)
    base = {"LABS_DATA_DIR": str(data_dir), "LABS_NATS_PORT": str(nats_port), "LABS_PG_PORT": str(pg_port)}
    return StackConfig.from_env({**base, **env})


@pytest.fixture
def stacks() -> Iterator[list[Stack]]:
    """Stacks a test started, stopped at the end whatever happened."""
    started: list[Stack] = []
    yield started
    for s in started:
        s.stop()


def start(cfg: StackConfig, stacks: list[Stack]) -> Stack:
    stack = Stack(cfg, out=io.StringIO())
    stacks.append(stack)
    stack.start_servers()
    return stack


async def _stream_exists(nats_url: str, stream: str) -> bool:
    log = await EventLog.connect(nats_url, stream=stream)
    try:
        await log.js.stream_info(stream)
    except NotFoundError:
        return False
    finally:
        await log.close()
    return True


async def _sql(database_url: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(database_url)
    try:
        if ";" in sql:
            await conn.execute(sql)  # several statements, no rows
            return []
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def test_servers_start_under_the_data_dir_and_find_their_data_again(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    cfg = config(tmp_path / "data")
    stack = start(cfg, stacks)
    assert [s.name for s in stack.servers] == ["nats", "postgres"]
    assert stack.nats_url == f"nats://127.0.0.1:{cfg.nats_port}"
    assert f"127.0.0.1:{cfg.pg_port}/" in stack.database_url
    stack.create_stream()
    assert asyncio.run(_stream_exists(stack.nats_url, "AGENTS"))
    asyncio.run(_sql(stack.database_url, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('survives')"))
    assert (cfg.logs_dir / "nats-server.log").exists() and (cfg.logs_dir / "postgres.log").exists()
    procs = [s.proc for s in stack.servers]
    stack.stop()
    assert all(p.poll() is not None for p in procs)
    assert sorted(p.name for p in cfg.run_dir.iterdir()) == ["launcher.lock"]

    again = start(cfg, stacks)
    assert asyncio.run(_stream_exists(again.nats_url, "AGENTS"))  # without create_stream: from disk
    rows = asyncio.run(_sql(again.database_url, "SELECT v FROM kept"))
    assert [r["v"] for r in rows] == ["survives"]


def test_a_stale_postmaster_pid_does_not_block_a_restart(tmp_path: Path, stacks: list[Stack]) -> None:
    cfg = config(tmp_path / "data")
    start(cfg, stacks).stop()
    pid_file = cfg.data_dir / "postgres" / "pgdata" / "postmaster.pid"
    # The PID of a crashed postmaster, now reused by an unrelated live process.
    with subprocess.Popen(["sleep", "60"]) as other:
        try:
            pid_file.write_text(f"{other.pid}\n{pid_file.parent}\n")
            stack = start(cfg, stacks)
            assert asyncio.run(_sql(stack.database_url, "SELECT 1 AS one"))[0]["one"] == 1
        finally:
            other.kill()


def test_what_a_killed_launcher_left_running_is_stopped_by_the_next(
    tmp_path: Path, stacks: list[Stack]
) -> None:
    cfg = config(tmp_path / "data")
    env = {
        **os.environ,
        "LABS_DATA_DIR": str(cfg.data_dir),
        "LABS_NATS_PORT": str(cfg.nats_port),
        "LABS_PG_PORT": str(cfg.pg_port),
    }
    env.pop("NATS_URL", None)
    env.pop("DATABASE_URL", None)
    first = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.launcher", "servers"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert first.stdout is not None
    for line in first.stdout:
        if line.startswith("ready:"):
            break
    else:
        pytest.fail(f"the launcher ended before it was ready (exit {first.wait()})")
    orphans = [int(p.read_text().split()[0]) for p in cfg.run_dir.glob("*.pid")]
    assert len(orphans) == 2
    first.kill()
    first.wait()
    assert all(alive(pid) for pid in orphans)  # the servers outlive a SIGKILLed launcher

    stack = start(cfg, stacks)
    assert not any(alive(pid) for pid in orphans)
    assert isinstance(stack.out, io.StringIO)
    assert "left running by a launcher that was killed" in stack.out.getvalue()
    assert asyncio.run(_sql(stack.database_url, "SELECT 1 AS one"))[0]["one"] == 1


def test_given_urls_are_used_and_no_server_is_started(
    tmp_path: Path, stacks: list[Stack], nats_url: str, database_url: str
) -> None:
    stream = unique("L").upper()
    cfg = config(tmp_path / "data", NATS_URL=nats_url, DATABASE_URL=database_url, STREAM_NAME=stream)
    stack = start(cfg, stacks)
    assert stack.servers == []
    assert (stack.nats_url, stack.database_url) == (nats_url, database_url)
    assert not (cfg.data_dir / "nats").exists() and not (cfg.data_dir / "postgres").exists()
    stack.create_stream()
    assert asyncio.run(_stream_exists(nats_url, stream))


def test_a_given_nats_url_alone_starts_only_postgres(
    tmp_path: Path, stacks: list[Stack], nats_url: str
) -> None:
    stack = start(config(tmp_path / "data", NATS_URL=nats_url), stacks)
    assert [s.name for s in stack.servers] == ["postgres"]
    assert stack.nats_url == nats_url


def test_a_taken_port_is_named_with_the_variable_that_moves_it(tmp_path: Path, stacks: list[Stack]) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        cfg = config(tmp_path / "data", LABS_PG_PORT=str(taken))
        with pytest.raises(LauncherError) as err:
            start(cfg, stacks)
        assert f"port {taken} (postgres)" in str(err.value)
        assert "LABS_PG_PORT" in str(err.value)
        assert not (cfg.data_dir / "nats").exists()  # checked before anything started

        env = {**os.environ, "LABS_DATA_DIR": str(tmp_path / "cli"), "HTTP_PORT": str(taken)}
        cli = subprocess.run(
            [sys.executable, "-m", "deploy.local.launcher", "up"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 1
        assert f"port {taken} (gateway HTTP) is already in use" in cli.stderr
        assert "set HTTP_PORT" in cli.stderr


def test_a_second_launcher_on_the_same_data_dir_is_refused(tmp_path: Path, stacks: list[Stack]) -> None:
    cfg = config(tmp_path / "data")
    start(cfg, stacks)
    with pytest.raises(LauncherError, match="another launcher"):
        start(cfg, stacks)


def test_sigterm_during_start_stops_what_was_started(tmp_path: Path) -> None:
    cfg = config(tmp_path / "data")
    env = {
        **os.environ,
        "LABS_DATA_DIR": str(cfg.data_dir),
        "LABS_NATS_PORT": str(cfg.nats_port),
        "LABS_PG_PORT": str(cfg.pg_port),
    }
    env.pop("NATS_URL", None)
    env.pop("DATABASE_URL", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deploy.local.launcher", "servers"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # the first server is up
    assert line.startswith("nats"), line
    pids = [int(p.read_text().split()[0]) for p in cfg.run_dir.glob("*.pid")]
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    assert pids and not any(alive(pid) for pid in pids)
    assert not list(cfg.run_dir.glob("*.pid"))
