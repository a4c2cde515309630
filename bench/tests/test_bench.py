"""The benchmark's helpers and report on real processes and servers (small N, well under 60 s).

Not in `make test`'s testpaths: run with `.venv/bin/pytest bench -q`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import limits
from bench.measure import CpuSnapshot, closed_loop, memory_mb, open_loop, percentiles
from bench.report import aims, ratios, table

pytestmark = pytest.mark.timeout(60)

RESULTS = Path(__file__).resolve().parents[1] / "results"


def test_percentiles_nearest_rank() -> None:
    p = percentiles([float(x) for x in range(1, 101)])
    assert (p["p50"], p["p95"], p["p99"], p["n"]) == (50.0, 95.0, 99.0, 100)
    assert percentiles([]) == {}


def test_cpu_and_memory_of_a_real_busy_child() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", "import time\nt=time.time()\nwhile time.time()-t<0.6: pass"]
    )
    try:
        groups = {"child": child.pid}
        before = CpuSnapshot.take(groups)
        time.sleep(0.5)
        spent = before.delta(CpuSnapshot.take(groups))["child"]
        assert 0.2 < spent < 1.0
        assert memory_mb(groups)["child"]["hwm_mb"] > 1
    finally:
        child.wait(5)


async def test_open_loop_keeps_the_rate_and_closed_loop_its_bounds() -> None:
    async def call(_i: int) -> None:
        return None

    took = await open_loop(20, 100.0, call)
    assert 0.15 < took < 1.0  # 20 calls at 100/s: about 0.19 s
    done, _ = await closed_loop(4, 50, call, time_limit_s=5)
    assert done == 50


async def test_limits_on_the_real_servers(nats_url: str, database_url: str) -> None:
    js = await limits.jetstream_publish_rate(nats_url, n=500, size=300, in_flight=64)
    assert js["publishes_per_s"] > 0 and js["messages"] == 500
    pg = await limits.pg_insert_rate(database_url, n=500, row_bytes=200, batch=100)
    assert pg["copy_rows_per_s"] > 0 and pg["executemany_rows_per_s"] > 0


def test_a_stored_result_renders_and_has_every_section() -> None:
    files = sorted(RESULTS.glob("*.json"), key=os.path.getmtime)
    if not files:
        pytest.skip("no result yet: run make bench-quick")
    out = json.loads(files[-1].read_text())
    for key in ("machine", "e2e", "memory_at_rest_mb", "rebuild", "limits", "components", "aims", "ratios"):
        assert key in out, key
    assert out["ratios"] == json.loads(json.dumps(ratios(out), default=str))
    assert [a["aim"] for a in aims(out)] == [a["aim"] for a in out["aims"]]
    text = table(out)
    assert "aims (issue 7)" in text and "grpc_full_speed" in text


async def test_stream_bytes_at_rest_copies_a_range_and_measures_sealed_blocks(
    nats_url: str, servers_dir: Path
) -> None:
    """Events with the log's own headers (message ids, per-aggregate expectations) copied into a
    scratch stream of small blocks: every message lands (the expectations are rewritten for the
    copy), some blocks are sealed, and they are compressed."""
    import random

    import nats
    from nats.js import api

    from bench.at_rest import stream_at_rest

    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(api.StreamConfig(name="ATREST_SRC", subjects=["tst.>"], storage=api.StorageType.FILE))
    try:
        rng = random.Random(1)
        last: dict[str, int] = {}
        n = 0
        for i in range(6000):
            agg = f"x{i // 8}"
            body = json.dumps(
                {"i": i, "listing": {"title": "Walnut desk, two drawers", "price": rng.randint(1, 900_000)}}
            )
            hdrs = {"Nats-Msg-Id": f"{agg}:{i % 8}"}
            if i % 8 in (0, 1, 7):
                hdrs["Nats-Expected-Last-Subject-Sequence"] = str(last.get(agg, 0))
                hdrs["Nats-Expected-Last-Subject-Sequence-Subject"] = f"tst.execution.{agg}.>"
            ack = await js.publish(f"tst.execution.{agg}.e{i % 8}", (body * 12).encode(), headers=hdrs)
            last[agg] = ack.seq
            n += 1
        streams = next(servers_dir.glob("nats/**/streams"))
        out = await stream_at_rest(js, streams, 1, n, stream="ATREST_SRC", prefix="tst")
        assert out["messages"] == n
        assert out["sealed_blocks"] >= 1 and 0 < out["s2_ratio"] < 0.8
        assert "BENCH_AT_REST" not in [s.config.name for s in await js.streams_info()]  # removed
    finally:
        await js.delete_stream("ATREST_SRC")
        await nc.close()


async def test_the_grpc_floor_measures_a_real_echo_server() -> None:
    from bench.grpc_floor import unary_floor

    out = await unary_floor(n=300, concurrency=4)
    assert out["calls"] == 300 and out["calls_per_s"] > 0 and out["message_bytes"] > 300
    assert out["server_cpu_ms_per_call"] > 0 and out["client_cpu_ms_per_call"] > 0
