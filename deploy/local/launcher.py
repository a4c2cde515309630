"""The local stack: nats-server, PostgreSQL and the five services, started and stopped as one.

    python -m deploy.local.launcher up        # servers, stream, migrations, services (`make up`)
    python -m deploy.local.launcher servers   # only nats-server and PostgreSQL, for development
    python -m deploy.local.launcher clean-data

With NATS_URL / DATABASE_URL set, those servers are used and the launcher starts none of its
own for them. Data and logs live under LABS_DATA_DIR (default: `.data/` of the project). Ports:
LABS_NATS_PORT (4222), LABS_PG_PORT (5432), HTTP_PORT (8080), and the services' *_ADDR
variables (see labs_core/settings.py). Ctrl-C or SIGTERM stops the services, then the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import FrameType
from typing import TextIO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from deploy.local import servers
from deploy.local.config import ROOT, SERVICES, StackConfig
from deploy.local.keys import ensure_admin_key, ensure_internal_token
from deploy.local.procs import (
    LauncherError,
    RunDir,
    alive,
    check_ports,
    log_tail,
    port_in_use,
    stop_children,
)
from labs_core.eventlog import EventLog

#: The order services are stopped in: callers before the services they call.
STOP_TIERS = (("gateway",), ("runtime",), ("tools", "llm", "metrics"))

READY = "ready:"


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: stop what was started and leave."""


class Stack:
    """The processes the launcher started, and the steps that start and stop them."""

    def __init__(self, cfg: StackConfig, out: TextIO | None = None) -> None:
        self.cfg = cfg
        self.out = out or sys.stdout
        self.run_dir = RunDir(cfg.run_dir)
        self.servers: list[servers.ServerProcess] = []
        self.services: dict[str, subprocess.Popen[bytes]] = {}
        self.nats_url = cfg.external_nats_url or ""
        self.database_url = cfg.external_database_url or ""
        self.stop_signal: int | None = None
        self.auth_env: dict[str, str] = {}
        self.new_key: str | None = None

    # -- signals ---------------------------------------------------------------------------
    def catch_signals(self) -> None:
        """SIGINT/SIGTERM/SIGHUP only note the request; each step checks it when it can."""

        def note(signum: int, _frame: FrameType | None) -> None:
            # Nothing else here: printing from a handler can collide with the main thread's print.
            if self.stop_signal is None:
                self.stop_signal = signum

        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, note)

    def check_interrupt(self) -> None:
        """Interrupted if a stop was requested."""
        if self.stop_signal is not None:
            self.say(f"{signal.Signals(self.stop_signal).name} received")
            raise Interrupted

    def say(self, msg: str) -> None:
        """One line for the person at the terminal (gone after a SIGHUP: then to nobody)."""
        with contextlib.suppress(OSError):
            print(msg, file=self.out, flush=True)

    def claim(self) -> None:
        """Lock the data folder, and stop what a killed launcher left running there (idempotent)."""
        if self.run_dir.locked:
            return
        self.cfg.logs_dir.mkdir(parents=True, exist_ok=True)
        self.run_dir.lock()
        for what in self.run_dir.reap_orphans(self.cfg.stop_grace_s):
            self.say(f"stopped {what}, left running by a launcher that was killed")

    # -- servers ---------------------------------------------------------------------------
    def start_servers(self) -> None:
        """Start nats-server and PostgreSQL under the data folder, unless URLs were given."""
        cfg = self.cfg
        self.claim()
        check_ports(cfg.server_ports())
        if cfg.external_nats_url:
            self.say(f"nats        {self.nats_url} (given by NATS_URL)")
        else:
            srv = servers.start_nats(cfg.data_dir / "nats", cfg.nats_port, log_dir=cfg.logs_dir)
            self._started_server(srv)
            self.nats_url = srv.url
            self.say(f"nats        {srv.url} (data in {cfg.data_dir / 'nats'})")
        self.check_interrupt()
        if cfg.external_database_url:
            self.say(f"postgres    {self.database_url} (given by DATABASE_URL)")
        else:
            pg_dir = cfg.data_dir / "postgres"
            clear_stale_postmaster_pid(pg_dir / "pgdata")
            try:
                srv = servers.start_postgres(pg_dir, cfg.pg_port, log_dir=cfg.logs_dir)
            except (RuntimeError, TimeoutError, subprocess.CalledProcessError) as e:
                raise LauncherError(
                    f"postgres did not start: {e}\nthe end of {cfg.logs_dir / 'postgres.log'}:\n"
                    + log_tail(cfg.logs_dir / "postgres.log")
                ) from e
            self._started_server(srv)
            self.database_url = srv.url
            self.say(f"postgres    {srv.url} (data in {pg_dir})")
        self.check_interrupt()

    def _started_server(self, srv: servers.ServerProcess) -> None:
        self.servers.append(srv)
        self.run_dir.record(srv.name, srv.proc.pid)

    def create_stream(self) -> None:
        """Create the JetStream stream if it does not exist yet."""

        async def ensure() -> None:
            log = await EventLog.connect(
                self.nats_url, stream=self.cfg.stream_name, prefix=self.cfg.subject_prefix, name="launcher"
            )
            try:
                await log.ensure_stream()
            finally:
                await log.close()

        _run(ensure(), 30, f"creating the stream {self.cfg.stream_name} on {self.nats_url}")
        self.say(f"stream      {self.cfg.stream_name} (subjects {self.cfg.subject_prefix}.>)")
        self.check_interrupt()

    # -- services --------------------------------------------------------------------------
    def migrate(self) -> None:
        """Apply every service's migrations (each bootstrap's migrate_schema)."""
        for name in SERVICES:
            try:
                module = importlib.import_module(f"services.{name}.bootstrap")
            except Exception as e:
                raise LauncherError(f"services.{name}.bootstrap cannot be imported: {e!r}") from e
            migrate_schema: Callable[[str], Awaitable[None]] = module.migrate_schema
            _run(migrate_schema(self.database_url), 60, f"migrating the {name} schema")
            self.check_interrupt()
        self.say(f"migrations  applied for {', '.join(SERVICES)}")

    def start_services(self) -> None:
        """Start the five services, each logging to logs/<name>.log."""
        env = {**os.environ, **self.cfg.service_env(self.nats_url, self.database_url)}
        self.auth_env, self.new_key = ensure_admin_key(self.cfg.data_dir, env)
        env.update(self.auth_env)
        env.update(ensure_internal_token(self.cfg.data_dir, env))
        for name in SERVICES:
            log_path = self.cfg.logs_dir / f"{name}.log"
            with log_path.open("wb") as log_file:
                proc = subprocess.Popen(
                    [sys.executable, "-m", f"services.{name}"],
                    cwd=ROOT,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    # Its own session: a Ctrl-C reaches the launcher only, which stops in order.
                    start_new_session=True,
                )
            self.services[name] = proc
            self.run_dir.record(name, proc.pid)

    def wait_serving(self) -> None:
        """Wait until every service reports SERVING over gRPC health checking."""
        deadline = time.monotonic() + self.cfg.start_timeout_s
        pending = dict.fromkeys(SERVICES, "")
        channels = {name: grpc.insecure_channel(self.cfg.addrs[name]) for name in SERVICES}
        try:
            while pending:
                self.check_interrupt()
                self.check_children()
                for name in list(pending):
                    state = _health(channels[name])
                    if state == "SERVING" and name == "gateway" and not port_in_use(self.cfg.http_port):
                        state = f"SERVING, but nothing listens on HTTP port {self.cfg.http_port}"
                    if state == "SERVING":
                        del pending[name]
                    else:
                        pending[name] = state
                if pending and time.monotonic() > deadline:
                    name, state = next(iter(pending.items()))
                    raise LauncherError(
                        f"{name} did not report SERVING on {self.cfg.addrs[name]} within "
                        f"{self.cfg.start_timeout_s:.0f}s (last answer: {state or 'none'}); "
                        f"the end of {self._log(name)}:\n{log_tail(self._log(name))}"
                    )
                if pending:
                    time.sleep(0.2)
        finally:
            for ch in channels.values():
                ch.close()

    def check_children(self) -> None:
        """LauncherError, with its log tail, if a service or a server has exited."""
        for name, proc in self.services.items():
            if proc.poll() is not None:
                raise LauncherError(
                    f"{name} exited with code {proc.returncode}; the end of {self._log(name)}:\n"
                    + log_tail(self._log(name))
                )
        for srv in self.servers:
            if srv.proc.poll() is not None:
                raise LauncherError(
                    f"{srv.name} exited with code {srv.proc.returncode}; the end of {srv.log_path}:\n"
                    + log_tail(srv.log_path)
                )

    def _log(self, name: str) -> Path:
        return self.cfg.logs_dir / f"{name}.log"

    def watch(self) -> None:
        """Until a stop is requested: LauncherError as soon as a child dies."""
        while True:
            self.check_interrupt()
            self.check_children()
            time.sleep(0.25)

    # -- stop ------------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the services (callers first), then the servers; by PID. Idempotent."""
        if self.services or self.servers:
            self.say("stopping: services, then servers")
        for tier in STOP_TIERS:
            procs = [self.services[n] for n in tier if n in self.services]
            stop_children(procs, self.cfg.stop_grace_s)
            for n in tier:
                if self.services.pop(n, None) is not None:
                    self.run_dir.forget(n)
        while self.servers:
            srv = self.servers.pop()
            srv.stop(self.cfg.stop_grace_s)
            self.run_dir.forget(srv.name)
            self.say(f"stopped {srv.name}")
        self.run_dir.unlock()

    # -- reports ---------------------------------------------------------------------------
    def report_servers(self) -> None:
        """The exports to point a service or a test at these servers."""
        self.say(f"export NATS_URL={self.nats_url}")
        self.say(f"export DATABASE_URL={self.database_url}")
        self.say(f"{READY} servers are up (logs in {self.cfg.logs_dir}); Ctrl-C stops them")

    def report_stack(self) -> None:
        """Where everything listens, and a first request to try."""
        http = f"http://127.0.0.1:{self.cfg.http_port}"
        open_ = os.environ.get("LABS_AUTH_DISABLED", "").lower() in ("1", "true", "yes")
        auth_h = "" if open_ else '-H "Authorization: Bearer $LABS_API_KEY" '
        lines = [f"{READY} Labs Agent Runtime is up; Ctrl-C stops it", f"  HTTP API       {http}"]
        if open_:
            lines.append("  auth           DISABLED (LABS_AUTH_DISABLED): anyone on this machine may call it")
        lines += [f"  {name + ' gRPC':<14} {self.cfg.addrs[name]}" for name in reversed(SERVICES)]
        lines += [
            f"  NATS           {self.nats_url}",
            f"  PostgreSQL     {self.database_url}",
            f"  logs           {self.cfg.logs_dir}",
            *self._auth_lines(),
            "try:",
            f"  curl -s -X POST {http}/api/agents/execute -H 'Content-Type: application/json' \\",
            *([] if open_ else ['    -H "Authorization: Bearer $LABS_API_KEY" \\']),
            """    -d '{"type": "MARKET", "action": "analyze_market", "input": {"category": "electronics"}}'""",
            f"  curl -s {auth_h}{http}/api/agents/<execution_id>",
            f"  agentctl --addr {self.cfg.addrs['gateway']} run MARKET analyze_market"
            """ --input '{"category": "electronics"}' --wait""",
            f"  API reference  {http}/docs",
            f"  curl -s {http}/api/health",
        ]
        self.say("\n".join(lines))

    def _auth_lines(self) -> list[str]:
        """How to authenticate: the key generated just now (shown once), or where keys come from."""
        if self.new_key:
            return [
                f"  admin API key  {self.new_key}",
                f"                 (shown once; only its hash is kept in {self.auth_env['LABS_API_KEYS_FILE']})",
                f"  export LABS_API_KEY={self.new_key}",
            ]
        if "LABS_API_KEYS_FILE" in self.auth_env:
            return [
                f"  API keys       hashes in {self.auth_env['LABS_API_KEYS_FILE']} (LABS_API_KEY=<your key>)"
            ]
        return []


def clear_stale_postmaster_pid(pgdata: Path) -> None:
    """Remove a postmaster.pid whose PID now belongs to another process.

    A dead PID is left alone: postgres itself sees the file is stale and checks that no old
    backend still holds the shared memory. A PID reused by an unrelated process (likely after
    a machine or container restart) would make postgres refuse to start.
    """
    pid_file = pgdata / "postmaster.pid"
    try:
        pid = int(pid_file.read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return
    if not alive(pid):
        return
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return  # no /proc: let postgres decide
    if Path(cmdline[0].decode(errors="replace")).name == "postgres" and str(pgdata).encode() in cmdline:
        raise LauncherError(
            f"a postgres (PID {pid}) is still running on {pgdata}: stop it (kill {pid}) and try again"
        )
    pid_file.unlink()


def _health(ch: grpc.Channel) -> str:
    """The overall health status a server reports, or '' if it does not answer yet."""
    try:
        resp = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(service=""), timeout=1.0)
    except grpc.RpcError:
        return ""
    return str(health_pb2.HealthCheckResponse.ServingStatus.Name(resp.status))


def _run(coro: Awaitable[None], timeout_s: float, what: str) -> None:
    async def bounded() -> None:
        await asyncio.wait_for(coro, timeout_s)

    try:
        asyncio.run(bounded())
    except TimeoutError:
        raise LauncherError(f"{what}: no answer within {timeout_s:.0f}s") from None
    except Exception as e:
        raise LauncherError(f"{what} failed: {e}") from e


def _check_services_exist() -> None:
    missing = [n for n in SERVICES if importlib.util.find_spec(f"services.{n}.__main__") is None]
    if missing:
        raise LauncherError("cannot start " + ", ".join(f"services/{n} (no __main__.py)" for n in missing))


def up(stack: Stack) -> None:
    """Servers, stream, migrations, services; then wait for a signal or a child's death."""
    _check_services_exist()
    stack.claim()  # first: what a killed launcher left running may hold the ports
    check_ports(stack.cfg.service_ports(), stack.cfg.bind_host)
    stack.start_servers()
    stack.create_stream()
    stack.migrate()
    stack.start_services()
    stack.wait_serving()
    stack.report_stack()
    stack.watch()


def only_servers(stack: Stack) -> None:
    """nats-server and PostgreSQL (and the stream), until a signal."""
    stack.start_servers()
    stack.create_stream()
    stack.report_servers()
    stack.watch()


def clean_data(stack: Stack) -> None:
    """Remove the data folder, unless a launcher is using it or it is not the launcher's."""
    if not stack.run_dir.path.is_dir():
        raise LauncherError(f"{stack.cfg.data_dir} has no run/ folder: not a launcher's data, left alone")
    stack.claim()
    stack.run_dir.unlock()
    shutil.rmtree(stack.cfg.data_dir)
    stack.say(f"removed {stack.cfg.data_dir}")


COMMANDS: dict[str, Callable[[Stack], None]] = {"up": up, "servers": only_servers, "clean-data": clean_data}


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m deploy.local.launcher` and `labs-stack`."""
    parser = argparse.ArgumentParser(
        prog="labs-stack", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=list(COMMANDS))
    ns = parser.parse_args(argv)
    try:
        cfg = StackConfig.from_env()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if ns.command == "clean-data" and not cfg.data_dir.exists():
        print(f"nothing to remove: {cfg.data_dir} does not exist")
        return 0
    stack = Stack(cfg)
    stack.catch_signals()
    try:
        COMMANDS[ns.command](stack)
    except Interrupted:
        return 0
    except LauncherError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return 1
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
