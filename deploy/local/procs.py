"""Child processes of the launcher: ports, PID records, stopping by PID, log tails.

Everything is done by PID, never by process name. A PID is trusted only together with the
process start time recorded next to it, so a PID reused by an unrelated process is left alone.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from deploy.local.config import PortUse


class LauncherError(Exception):
    """A problem the launcher reports in one message, without a traceback."""


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if a server could not bind host:port now (something listens or holds it)."""
    with socket.socket() as s:
        s.settimeout(0.3)
        if s.connect_ex((host, port)) == 0:
            return True
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers do
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


def check_ports(uses: Iterable[PortUse], host: str = "127.0.0.1") -> None:
    """LauncherError naming each taken port and the variable that moves it."""
    uses = list(uses)
    seen: dict[int, PortUse] = {}
    problems = []
    for u in uses:
        if u.port in seen:
            problems.append(f"port {u.port} is set for both {seen[u.port].what} and {u.what}: change {u.env}")
        seen[u.port] = u
    for u in uses:
        if port_in_use(u.port, host):
            setting = f"{u.env}={host}:<port>" if u.env.endswith("_ADDR") else f"{u.env}=<port>"
            problems.append(
                f"port {u.port} ({u.what}) is already in use on {host}: stop what holds it, "
                f"or set {setting} to use another port"
            )
    if problems:
        raise LauncherError("\n".join(problems))


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on: the command name before it may hold spaces."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def start_time(pid: int) -> str | None:
    """The kernel's start time of a process (None if it does not exist or is unknown)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None


def alive(pid: int) -> bool:
    """True if a process with this PID runs (a zombie, dead but not yet reaped, does not)."""
    try:
        os.kill(pid, 0)
    except OSError as e:
        if e.errno != errno.EPERM:
            return False
    fields = _stat_fields(pid)
    return fields is None or fields[0] != "Z"


def terminate(pid: int, grace_s: float, sig: signal.Signals = signal.SIGTERM) -> None:
    """Send `sig` to a process that is not our child, then SIGKILL it after `grace_s`."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
    deadline = time.monotonic() + grace_s
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def stop_children(
    procs: Iterable[subprocess.Popen[bytes]], grace_s: float, sig: int = signal.SIGTERM
) -> None:
    """Signal our children (SIGTERM unless told) all at once, wait up to `grace_s`, SIGKILL those
    still running."""
    running = [p for p in procs if p.poll() is None]
    for p in running:
        with contextlib.suppress(ProcessLookupError):
            p.send_signal(sig)
    deadline = time.monotonic() + grace_s
    for p in running:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                p.kill()
            p.wait(5)


def log_tail(path: Path, lines: int = 25) -> str:
    """The last lines of a log file, indented, for an error message."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 16384))
            text = f.read().decode(errors="replace")
    except OSError:
        return f"    ({path} cannot be read)"
    tail = text.splitlines()[-lines:]
    return "\n".join(f"    {line}" for line in tail) if tail else f"    ({path} is empty)"


@dataclass
class RunDir:
    """The launcher's lock and the PID records of what it started, in one folder."""

    path: Path
    _lock_fd: int | None = None

    def lock(self) -> None:
        """Take the folder for this launcher; LauncherError if another one holds it."""
        self.path.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path / "launcher.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise LauncherError(
                f"another launcher (PID {holder}) is using {self.path.parent}: stop it first, "
                "or set LABS_DATA_DIR to another folder"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._lock_fd = fd

    @property
    def locked(self) -> bool:
        """True while this launcher holds the folder."""
        return self._lock_fd is not None

    def unlock(self) -> None:
        """Release the folder (idempotent)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def record(self, name: str, pid: int) -> None:
        """Remember a process we started, to find it again if this launcher is killed."""
        (self.path / f"{name}.pid").write_text(f"{pid} {start_time(pid) or ''}\n")

    def forget(self, name: str) -> None:
        """Drop the record of a process that has stopped."""
        (self.path / f"{name}.pid").unlink(missing_ok=True)

    def reap_orphans(self, grace_s: float) -> list[str]:
        """Stop what a killed launcher left running (by recorded PID and start time)."""
        stopped = []
        for rec in sorted(self.path.glob("*.pid")):
            parts = rec.read_text().split()
            if len(parts) == 2 and parts[0].isdigit() and start_time(int(parts[0])) == parts[1]:
                pid = int(parts[0])
                # postgres: SIGINT is its fast shutdown; SIGTERM would wait for clients to leave.
                terminate(pid, grace_s, signal.SIGINT if rec.stem == "postgres" else signal.SIGTERM)
                stopped.append(f"{rec.stem} (PID {pid})")
            rec.unlink()
        return stopped
