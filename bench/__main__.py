"""`python -m bench [--quick]`: start the stack like `make up`, measure, write bench/results/<date>.json.

All load loops are bounded in count and time; every process started here is stopped by its PID.
The machine is shared: compare figures as ratios within one run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import nats

from bench import at_rest, components, e2e, grpc_floor, limits, peer, profile, standalone
from bench.measure import memory_mb
from bench.report import aims, ratios, table
from bench.stack import Stack, extra_worker, started
from deploy.local.config import ROOT

RESULTS = ROOT / "bench" / "results"


@dataclass(frozen=True)
class Sizes:
    """How much of everything one run does."""

    low_rate: float
    low_n: int
    fixed_rate: float
    fixed_n: int
    full_n: int
    in_flight: int
    celery_n: int
    celery_rtt_n: int
    tool_n: int
    gateway_n: int
    metrics_executions: int
    metrics_queries: int
    raw_js_n: int
    raw_pg_n: int
    grpc_n: int
    profile_s: int
    loop_limit_s: float
    catalogue_size: int
    rebuild_tools: bool


QUICK = Sizes(
    10, 20, 50, 100, 150, 32, 500, 50, 1000, 100, 300, 20, 5_000, 5_000, 1_000, 4, 15, 10_000, False
)
FULL = Sizes(
    10,
    150,
    50,
    500,
    2000,
    64,
    5000,
    300,
    10_000,
    250,
    10_000,
    100,
    50_000,
    100_000,
    5_000,
    10,
    60,
    10_000,
    True,
)


def machine() -> dict[str, Any]:
    """What this ran on."""
    model = next(
        (
            ln.split(":", 1)[1].strip()
            for ln in Path("/proc/cpuinfo").read_text().splitlines()
            if ln.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = next(
        int(ln.split()[1])
        for ln in Path("/proc/meminfo").read_text().splitlines()
        if ln.startswith("MemTotal")
    )
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "ram_gb": round(mem_kb / 1024 / 1024, 1),
        "python": sys.version.split()[0],
        "kernel": platform.release(),
        "load_avg_at_start": os.getloadavg(),
    }


def step(name: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {name}", file=sys.stderr, flush=True)


async def measure_stack(stack: Stack, sz: Sizes, out: dict[str, Any], tmp: Path, stamp: str) -> None:
    """Everything that needs the stack running."""
    pids = stack.pids()
    services = {k: v for k, v in pids.items() if k not in ("nats", "nats-server", "postgres")}
    await asyncio.sleep(2)
    out["memory_at_rest_mb"] = memory_mb(pids)
    pool = await asyncpg.create_pool(stack.database_url, min_size=1, max_size=4)
    nc = await nats.connect(stack.nats_url)
    js = nc.jetstream()
    gw_grpc, rt = stack.addr("gateway"), stack.addr("runtime")
    common = {
        "http_base": stack.http,
        "pool": pool,
        "js": js,
        "pids": pids,
        "api_key": stack.api_key,
    }
    try:
        step("analyze_market_price on the fresh catalogue, then after ANALYZE (steady state)")
        out["cold_start"] = await components.analyze_cold_vs_warm(stack.addr("tools"), pool)
        step("warm-up")
        await e2e.run_e2e(
            transport="grpc", n=30, rate=0, grpc_addr=gw_grpc, max_in_flight=8, time_limit_s=30, **common
        )
        runs: dict[str, Any] = {}
        step(f"e2e grpc at {sz.low_rate:g}/s x {sz.low_n} (below capacity: the latency floor)")
        runs[f"grpc_fixed_{sz.low_rate:g}"] = await e2e.run_e2e(
            transport="grpc",
            n=sz.low_n,
            rate=sz.low_rate,
            grpc_addr=gw_grpc,
            time_limit_s=sz.loop_limit_s + sz.low_n / sz.low_rate,
            **common,
        )
        for transport in ("grpc", "http"):
            step(f"e2e {transport} at {sz.fixed_rate:g}/s x {sz.fixed_n}")
            runs[f"{transport}_fixed_{sz.fixed_rate:g}"] = await e2e.run_e2e(
                transport=transport,
                n=sz.fixed_n,
                rate=sz.fixed_rate,
                grpc_addr=gw_grpc,
                time_limit_s=sz.loop_limit_s + sz.fixed_n / sz.fixed_rate,
                **common,
            )
        hottest = ""
        full_from = (await js.stream_info("AGENTS")).state.last_seq + 1
        for transport in ("grpc", "http"):
            step(f"e2e {transport} full speed x {sz.full_n} ({sz.in_flight} in flight)")
            r = await e2e.run_e2e(
                transport=transport,
                n=sz.full_n,
                rate=0,
                grpc_addr=gw_grpc,
                max_in_flight=sz.in_flight,
                time_limit_s=sz.loop_limit_s,
                **common,
            )
            runs[f"{transport}_full_speed"] = r
            store = e2e.stream_dir(stack.run.data_dir)
            if transport == "grpc" and store is not None:
                step("stream bytes at rest: the run's messages in sealed S2 blocks")
                full_to = (await js.stream_info("AGENTS")).state.last_seq
                rest = await at_rest.stream_at_rest(js, store.parent, full_from, full_to)
                if rest.get("s2_ratio"):
                    rest["bytes_per_execution"] = r["stream_bytes_per_execution"] * rest["s2_ratio"]
                out["stream_at_rest"] = rest
            if not hottest:
                hottest = max(
                    (k for k in r["cpu_s_by_process"] if k in services),
                    key=lambda k: r["cpu_s_by_process"][k],
                )
        out["e2e"] = runs
        out["memory_under_load_mb"] = memory_mb(pids)

        step(f"profile of the hottest process ({hottest}) under full-speed gRPC load")
        base = RESULTS / f"{stamp}-{hottest}"
        samplers = profile.start(pids[hottest], base, sz.profile_s)
        r = await e2e.run_e2e(
            transport="grpc",
            n=sz.full_n * 4,
            rate=0,
            grpc_addr=gw_grpc,
            max_in_flight=sz.in_flight,
            time_limit_s=sz.profile_s + 1,
            **common,
        )
        out["profile"] = {
            "process": hottest,
            "pid": pids[hottest],
            "during": "full-speed gRPC e2e",
            "executions_per_s_while_profiled": r["executions_per_s"],
            **profile.finish(samplers, base),
        }

        step("runtime overhead per execution (execution view)")
        comp: dict[str, Any] = {"runtime_overhead": await e2e.runtime_overhead(rt, pool)}
        some = await pool.fetchval(
            "SELECT execution_id FROM runtime.executions WHERE status = 'COMPLETED' ORDER BY finished_at DESC LIMIT 1"
        )
        out["stream_bytes_by_event"] = await components.event_sizes(stack.nats_url, some)
        step("two workers (extra RUNTIME_ROLE=worker process)")
        with extra_worker(stack, tmp) as wpid:
            r2 = await e2e.run_e2e(
                transport="grpc",
                n=sz.full_n,
                rate=0,
                grpc_addr=gw_grpc,
                max_in_flight=sz.in_flight,
                time_limit_s=sz.loop_limit_s,
                **{**common, "pids": {**pids, "worker2": wpid}},
            )
        one = runs["grpc_full_speed"]["executions_per_s"]
        comp["workers"] = {
            "label": "issue 3: executions/s through one worker and through two (gRPC, full speed)",
            "one_worker_per_s": one,
            "two_workers_per_s": r2["executions_per_s"],
            "ratio": r2["executions_per_s"] / one if one else None,
            "two_workers_run": r2,
        }
        step("tools: get_listings over gRPC")
        comp["tools"] = await components.tool_invocations(
            stack.addr("tools"), n=sz.tool_n, concurrency=16, time_limit_s=sz.loop_limit_s
        )
        step("gateway added latency")
        comp["gateway"] = await components.gateway_overhead(
            stack.http,
            gw_grpc,
            rt,
            some,
            stack.api_key,
            n=sz.gateway_n * 4,
            concurrency=16,
            time_limit_s=sz.loop_limit_s / 2,
        )
        comp["projection_lag_under_load_ms"] = {
            "label": "issue 5: projection lag (terminal event occurred_at to row visible) at full speed",
            "at_executions_per_s": runs["grpc_full_speed"]["executions_per_s"],
            **runs["grpc_full_speed"]["projection_lag_ms"],
        }
        comp["llm_proxy"] = {
            "see": "components_standalone.llm: the proxy's added latency against a local "
            "OpenAI-protocol server, and the LiteLLM peer in front of the same server"
        }
        out["components"] = comp

        step("rebuild of every read model from the log")
        out["rebuild"] = await limits.rebuild_rates(
            stack.nats_url, stack.database_url, tools=sz.rebuild_tools
        )

        step(f"metrics: {sz.metrics_executions} synthetic executions over 30 days, then GetMetrics")
        comp["metrics"] = await components.metrics_query(
            stack.nats_url,
            stack.database_url,
            stack.addr("metrics"),
            some,
            executions=sz.metrics_executions,
            time_limit_s=sz.loop_limit_s * 2,
            queries=sz.metrics_queries,
        )
        comp["metrics"]["memory_after_mb"] = memory_mb(pids)

        step("physical limits: raw JetStream publishes, raw PostgreSQL inserts")
        size = int(runs["grpc_full_speed"]["stream_bytes_per_message"]) or 300
        out["limits"] = {
            "jetstream": await limits.jetstream_publish_rate(stack.nats_url, n=sz.raw_js_n, size=size),
            "postgres": await limits.pg_insert_rate(stack.database_url, n=sz.raw_pg_n, row_bytes=600),
            "grpc": await grpc_floor.unary_floor(n=sz.grpc_n),
        }
        out["memory_final_mb"] = memory_mb(pids)
    finally:
        await nc.close()
        await pool.close()


def _terminate(_sig: int, _frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit code."""
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true", help="smaller N (make bench-quick, under 90 s)")
    ap.add_argument("--no-peer", action="store_true", help="skip Celery")
    ap.add_argument("--out", type=Path, default=None, help="result file (default bench/results/<date>.json)")
    ns = ap.parse_args(argv)
    # SIGTERM (e.g. from `timeout`) unwinds like Ctrl-C, so the stack and the peer are stopped.
    signal.signal(signal.SIGTERM, _terminate)
    sz = QUICK if ns.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    # A quick run's files are its own (its profile must not replace the full run's).
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d") + ("-quick" if ns.quick else "")
    out_path = ns.out or RESULTS / f"{stamp}.json"
    t_start = time.monotonic()
    out: dict[str, Any] = {
        "kind": "quick" if ns.quick else "full",
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "sizes": sz.__dict__,
        "noise": "2 shared cores; other work ran at the same time: compare ratios within this run",
        "task": "MARKET analyze_market: two tool calls (get_listings, analyze_market_price), one model call (offline)",
    }
    tmp = Path(tempfile.mkdtemp(prefix="labs-bench-"))
    try:
        step(f"starting the stack in {tmp} (CATALOGUE_SIZE={sz.catalogue_size})")
        t0 = time.monotonic()
        with started(tmp / "data", {"CATALOGUE_SIZE": str(sz.catalogue_size)}) as stack:
            out["stack_start_s"] = round(time.monotonic() - t0, 1)
            asyncio.run(measure_stack(stack, sz, out, tmp, stamp))
            step("stopping the stack")
        step("standalone component benchmarks: gateway, tools registry, llm proxy")
        out["components_standalone"] = standalone.run_all(ns.quick, timeout_s=60 if ns.quick else 240)
        if not ns.no_peer:
            step(f"peer: Celery + Redis, {sz.celery_n} no-op tasks")
            try:
                out["celery"] = peer.measure(tmp, n=sz.celery_n, rtt_n=sz.celery_rtt_n)
            except Exception as e:  # the peer is optional on a machine without redis-server
                out["celery"] = {"error": repr(e)}
        out["ratios"] = ratios(out)
        out["aims"] = aims(out)
        out["bench_s"] = round(time.monotonic() - t_start, 1)
        out_path.write_text(json.dumps(out, indent=2, default=str) + "\n")
        print(table(out))
        print(f"\nresults: {out_path.relative_to(ROOT) if out_path.is_relative_to(ROOT) else out_path}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
