"""`python -m services.llm.bench_llm`: the proxy's added latency and its throughput (issue 8).

Everything on loopback, bounded in count and time. Started, and stopped by PID: nats-server (the
call events are appended as in production), an instant OpenAI-protocol server (the fake of the
tests, in a process of its own), `python -m services.llm` with OPENAI_BASE_URL pointing at it,
and, with `--litellm DIR` (a throwaway venv holding `litellm[proxy]`, never a project
dependency), the LiteLLM proxy (one worker) in front of the same server.

At each concurrency (closed loop, default 1 and 32) the targets are measured in turn, twice,
interleaved (noise hits all): (a) the server called directly with the openai SDK, (b) through
the llm service's gRPC Generate (and, with `--baseline REF`, through the service as of
commit REF, run from `git archive` beside it: before/after in one run), (c) through LiteLLM with the openai SDK. Reported: requests/s,
median and p99 latency, the median added over direct, and the llm service's CPU per request.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from labs_core.auth import TOOLING, channel_as, env_auth

REPO = Path(__file__).resolve().parents[2]
MODEL = "gpt-4o-mini"
PROMPT = "Say hi."


def _percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * len(s) + 0.5) - 1))] if s else float("nan")


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _closed_loop(
    call: Callable[[], Awaitable[object]], concurrency: int, count: int, limit_s: float
) -> tuple[float, list[float]]:
    """`count` calls by `concurrency` workers, stopping early after `limit_s`: (req/s, latencies)."""
    latencies: list[float] = []
    left = count
    deadline = time.perf_counter() + limit_s

    async def worker() -> None:
        nonlocal left
        while left > 0 and time.perf_counter() < deadline:
            left -= 1
            t = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - t)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies) / (time.perf_counter() - start), latencies


class _Proc:
    """A child process whose stderr is drained (and searched for a line) in a thread."""

    def __init__(self, cmd: list[str], env: dict[str, str], ready: str, cwd: Path = REPO) -> None:
        self.p = subprocess.Popen(
            cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip
        self.line: str | None = None
        self._ready = ready
        self._seen = threading.Event()
        threading.Thread(target=self._drain, daemon=True).start()

    def _drain(self) -> None:
        assert self.p.stderr is not None
        for line in self.p.stderr:
            if self.line is None and self._ready in line:
                self.line = line
                self._seen.set()
        self._seen.set()

    def wait_ready(self, timeout_s: float) -> str:
        if not self._seen.wait(timeout_s) or self.line is None:
            raise RuntimeError(f"{self.p.args!r} did not start (exit code {self.p.poll()})")
        return self.line

    def stop(self) -> None:
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()


async def _serve_fake() -> None:
    """The fake OpenAI server, answering at once; prints its port and serves until SIGTERM."""
    from services.llm.tests.fakes import FakeOpenAI

    server = FakeOpenAI()
    await server.start()
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    print(f"fake openai on port {server.port}", file=sys.stderr, flush=True)

    async def forget() -> None:  # the fake remembers requests for tests; not here
        while not stop.is_set():
            server.seen.clear()
            await asyncio.sleep(1)

    task = asyncio.create_task(forget())
    await stop.wait()
    task.cancel()
    await server.stop()


def _py_spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy (the bench extra) recording `pid` into `out` as collapsed stacks until SIGINT."""
    cmd = [str(Path(sys.executable).parent / "py-spy"), "record", "--nonblocking", "-r", "200"]
    return subprocess.Popen([*cmd, "-f", "raw", "-o", out, "-p", str(pid)], stdout=subprocess.DEVNULL)


def _start_llm(
    where: Path, env: dict[str, str], procs: list[_Proc]
) -> tuple[_Proc, Any, Callable[[], Awaitable[object]]]:
    """`python -m services.llm` run in `where`: the process, its channel, one Generate call."""
    from labs.llm.v1 import llm_service_pb2 as pb
    from labs.llm.v1 import llm_service_pb2_grpc

    llm = _Proc([sys.executable, "-m", "services.llm"], env, "serving on", cwd=where)
    procs.append(llm)
    port = int(llm.wait_ready(30).split("serving on ")[1].split(";")[0].rsplit(":", 1)[1])
    channel = channel_as(f"127.0.0.1:{port}", TOOLING, env_auth())
    stub = llm_service_pb2_grpc.LlmServiceStub(channel)
    request = pb.GenerateRequest(model=MODEL, prompt=PROMPT)

    async def call() -> object:
        return await stub.Generate(request, timeout=30)

    return llm, channel, call


def _extract(ref: str, where: Path) -> None:
    """services/llm (and the services package) as of commit `ref`, into `where`."""
    cmd = ["git", "archive", ref, "services/__init__.py", "services/llm"]
    archive = subprocess.run(cmd, cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive, check=True)


async def _wait_port(port: int, proc: _Proc, timeout_s: float) -> None:
    """Until 127.0.0.1:`port` accepts a connection (the process still running)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{proc.p.args!r} did not start (exit code {proc.p.poll()})")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.2)
            continue
        writer.close()
        return


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start the servers, measure, stop them; the results."""
    import openai

    from deploy.local.servers import start_nats
    from services.llm.tests.fakes import FakeOpenAI

    procs: list[_Proc] = []
    tmp = tempfile.TemporaryDirectory(prefix="bench-llm-")
    nats = start_nats(Path(tmp.name) / "nats")
    try:
        os.environ.setdefault("LABS_INTERNAL_TOKEN", secrets.token_urlsafe(32))
        base_env = {k: v for k, v in os.environ.items() if not k.startswith(("GOOGLE", "OPENAI", "GEMINI"))}
        fake = _Proc(
            [sys.executable, "-m", "services.llm.bench_llm", "--serve-fake"], base_env, "fake openai"
        )
        procs.append(fake)
        fake_url = f"http://127.0.0.1:{fake.wait_ready(20).split()[-1]}/v1"
        env = {
            **base_env,
            "LLM_ADDR": "127.0.0.1:0", "LOG_LEVEL": "INFO", "NATS_URL": nats.url,
            "OPENAI_API_KEY": FakeOpenAI.api_key, "OPENAI_BASE_URL": fake_url,
            "OTEL_SDK_DISABLED": "true",
        }  # fmt: skip
        llm, channel, call_proxy = _start_llm(REPO, env, procs)
        services = {"llm": llm}
        targets: dict[str, Callable[[], Awaitable[object]]] = {"llm": call_proxy}
        channels = [channel]
        if args.baseline:  # the same service from an earlier commit, beside it in this run
            where = Path(tmp.name) / "baseline"
            where.mkdir()
            _extract(args.baseline, where)
            name = f"llm@{args.baseline}"
            base_env = {**env, "PYTHONPATH": str(REPO)}
            services[name], channel, targets[name] = _start_llm(where, base_env, procs)
            channels.append(channel)

        direct = openai.AsyncOpenAI(api_key=FakeOpenAI.api_key, base_url=fake_url, max_retries=0)
        messages: Any = [{"role": "user", "content": PROMPT}]

        async def call_direct() -> object:
            return await direct.chat.completions.create(model=MODEL, messages=messages)

        targets = {"direct": call_direct, **targets}
        peer: openai.AsyncOpenAI | None = None
        if args.litellm:
            port = _free_port()
            exe = str(Path(args.litellm) / "bin" / "litellm")
            master = f"sk-bench-{secrets.token_hex(16)}"  # LiteLLM refuses to start without one
            # Loopback only: its price table from the package, not fetched.
            peer_env = {**env, "LITELLM_MASTER_KEY": master, "LITELLM_LOCAL_MODEL_COST_MAP": "True"}
            cmd = [exe, "--model", f"openai/{MODEL}", "--api_base", fake_url, "--host", "127.0.0.1"]
            lite = _Proc([*cmd, "--port", str(port), "--num_workers", "1"], peer_env, "Uvicorn running")
            procs.append(lite)
            await _wait_port(port, lite, 120)
            peer = openai.AsyncOpenAI(api_key=master, base_url=f"http://127.0.0.1:{port}", max_retries=0)
            peer_client = peer

            async def call_litellm() -> object:
                return await peer_client.chat.completions.create(model=MODEL, messages=messages)

            targets["litellm"] = call_litellm

        for call in targets.values():  # warm up: connections, the provider's SDK, caches
            await _closed_loop(call, 4, 40, 10)

        spy = None
        if args.profile:  # py-spy (the bench extra) on the llm service, collapsed stacks
            spy = _py_spy(services["llm"].p.pid, args.profile)
        results: dict[str, Any] = {}
        for c in args.concurrency:
            rows: dict[str, dict[str, Any]] = {n: {"rps": [], "lat": [], "cpu": 0.0, "n": 0} for n in targets}
            for _ in range(2):
                for name, call in targets.items():
                    proc = services.get(name)
                    cpu = _cpu_s(proc.p.pid) if proc else 0.0
                    rps, lat = await _closed_loop(call, c, args.requests // 2, args.time_limit / 2)
                    row = rows[name]
                    row["rps"].append(rps)
                    row["lat"].extend(lat)
                    row["cpu"] += _cpu_s(proc.p.pid) - cpu if proc else 0.0
                    row["n"] += len(lat)
            direct_p50 = _percentile(rows["direct"]["lat"], 0.5)
            results[f"c{c}"] = {
                name: {
                    "requests": row["n"],
                    "rps": round(sum(row["rps"]) / len(row["rps"]), 1),
                    "p50_ms": round(_percentile(row["lat"], 0.5) * 1000, 3),
                    "p99_ms": round(_percentile(row["lat"], 0.99) * 1000, 3),
                    "added_p50_ms": round((_percentile(row["lat"], 0.5) - direct_p50) * 1000, 3),
                    **(
                        {"llm_cpu_ms_per_request": round(row["cpu"] / row["n"] * 1000, 3)}
                        if name in services
                        else {}
                    ),
                }
                for name, row in rows.items()
            }
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(30)
        await direct.close()
        if peer is not None:
            await peer.close()
        for channel in channels:
            await channel.close()
        return results
    finally:
        for proc in reversed(procs):
            proc.stop()
        nats.stop()
        tmp.cleanup()


def main() -> None:
    """Entry point."""
    parser = argparse.ArgumentParser(prog="python -m services.llm.bench_llm", description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per target and concurrency")
    parser.add_argument("--time-limit", type=float, default=20.0, help="seconds per target and concurrency")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 32])
    parser.add_argument("--litellm", metavar="VENV", help="a venv holding litellm[proxy]: measure it too")
    parser.add_argument("--baseline", metavar="REF", help="also measure services/llm as of this git commit")
    parser.add_argument("--profile", metavar="FILE", help="py-spy the llm service: collapsed stacks here")
    parser.add_argument("--out", help="also write the results as JSON here")
    parser.add_argument("--serve-fake", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_fake:
        asyncio.run(_serve_fake())
        return
    results = asyncio.run(run(args))
    text = json.dumps(results, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
