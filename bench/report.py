"""Ratios against the limits and the peer, the issue's aims, and the terminal table."""

from __future__ import annotations

from typing import Any


def _get(d: dict[str, Any], *path: str, default: Any = None) -> Any:
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def best_full_speed(out: dict[str, Any]) -> dict[str, Any]:
    """The faster of the full-speed runs (gRPC or HTTP)."""
    runs = [v for k, v in _get(out, "e2e", default={}).items() if k.endswith("full_speed")]
    return max(runs, key=lambda r: r["executions_per_s"], default={})


def ratios(out: dict[str, Any]) -> dict[str, Any]:
    """Our figures as fractions of the physical limits and as ratios to Celery."""
    best = best_full_speed(out)
    eps = best.get("executions_per_s", 0.0)
    js = _get(out, "limits", "jetstream", "publishes_per_s", default=0) or 0
    pgr = _get(out, "limits", "postgres", "executemany_rows_per_s", default=0) or 0
    cel = _get(out, "celery", "tasks_per_s", default=0) or 0
    cel_rtt = _get(out, "celery", "round_trip_ms", "p50", default=0) or 0
    cel_cpu = _get(out, "celery", "cpu_ms_per_task_server_side", default=0) or 0
    fixed = _get(out, "e2e", "grpc_fixed_50", default={})
    r: dict[str, Any] = {"executions_per_s_best": eps}
    if js:
        r["executions_per_s_over_raw_jetstream_publishes_per_s"] = eps / js
        r["events_appended_per_s_over_raw_jetstream"] = (
            eps * best.get("stream_messages_per_execution", 0) / js
        )
    if pgr:
        r["executions_per_s_over_raw_pg_rows_per_s"] = eps / pgr
    if cel:
        r["executions_per_s_over_celery_tasks_per_s"] = eps / cel
    if cel_rtt and fixed:
        r["submit_to_visible_p50_over_celery_round_trip_p50"] = (
            fixed["submit_to_visible_ms"].get("p50", 0) / cel_rtt
        )
    if cel_cpu and best:
        r["cpu_per_execution_over_celery_cpu_per_task"] = best["cpu_ms_per_execution"] / cel_cpu
    rb = _get(out, "rebuild", "all", "events_per_s", default=0)
    if rb and js:
        r["rebuild_events_per_s_over_raw_jetstream"] = rb / js
    lite = _get(out, "components_standalone", "llm", "litellm_peer", "c1", "litellm_over_llm")
    if lite:
        r["litellm_added_p50_over_llm_added_p50_c1"] = lite
    return r


def aims(out: dict[str, Any]) -> list[dict[str, Any]]:
    """Each aim of issue 7 with the measured value and whether it is met."""
    best = best_full_speed(out)
    fixed = _get(out, "e2e", "grpc_fixed_50", default={})
    rest = _get(out, "memory_at_rest_mb", default={})
    load = _get(out, "memory_final_mb", default={})
    services = ("gateway", "runtime", "tools", "llm", "metrics")
    worst_rest = max(((rest[s]["rss_mb"], s) for s in services if s in rest), default=(0.0, ""))
    rows = [
        (
            "executions/s over Celery no-op tasks/s",
            _get(out, "ratios", "executions_per_s_over_celery_tasks_per_s"),
            ">=",
            1.0,
        ),
        (
            "submit-to-COMPLETED-visible p50 at 50/s (ms, gRPC)",
            _get(fixed, "submit_to_visible_ms", "p50"),
            "<",
            5.0,
        ),
        ("CPU per execution, all processes (ms)", best.get("cpu_ms_per_execution"), "<", 3.0),
        (f"largest service RSS at rest (MB, {worst_rest[1]})", worst_rest[0], "<", 80.0),
        ("runtime (worker) peak RSS under load (MB)", _get(load, "runtime", "hwm_mb"), "<", 120.0),
        ("stream bytes per execution (messages)", best.get("stream_bytes_per_execution"), "<", 2048.0),
        (
            "stream bytes per execution (at rest: sealed S2 blocks)",
            _get(out, "stream_at_rest", "bytes_per_execution"),
            "<",
            2048.0,
        ),
        ("runtime schema bytes per execution", _get(best, "pg_bytes_per_execution", "runtime"), "<", 2048.0),
        ("rebuild events/s (all read models)", _get(out, "rebuild", "all", "events_per_s"), ">", 50_000.0),
    ]
    peer = _get(out, "components_standalone", "llm", "litellm_peer")
    if peer is not None:  # results from before the peer was part of the run have no row
        rows.append(
            (
                "[issue 8] LiteLLM added p50 over our llm proxy's (c=1)",
                _get(peer, "c1", "litellm_over_llm"),
                ">=",
                10.0,
            )
        )
    res = []
    for name, value, op, target in rows:
        met = None
        if isinstance(value, int | float):
            met = value >= target if op == ">=" else value < target if op == "<" else value > target
        res.append(
            {
                "aim": name,
                "measured": value,
                "target": f"{op} {target:g}",
                "met": met,
                "factor": (value / target if op == "<" else target / value) if value else None,
            }
        )
    return res


def _f(v: Any, nd: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{nd}f}"
    return str(v)


def llm_line(llm: dict[str, Any]) -> str:
    """The llm proxy's added p50 over direct, and LiteLLM's in the same run (or why not)."""
    if "result" not in llm:
        return f"[issue 8] llm proxy: {llm.get('error') or llm.get('skipped')}"
    peer = llm.get("litellm_peer", {})
    parts = []
    for conc, rows in llm["result"].items():
        if not isinstance(rows, dict) or "llm" not in rows:
            continue
        text = f"{conc.replace('c', 'c=')} {rows['llm']['added_p50_ms']:+.2f} ms ({_f(rows['llm']['rps'], 0)} req/s)"
        cmp = peer.get(conc)
        if cmp:
            x = cmp["litellm_over_llm"]
            text += (
                f" vs LiteLLM {cmp['litellm_added_p50_ms']:+.2f} ms ({_f(cmp['litellm_rps'], 0)} req/s)"
                f" = {_f(x) + 'x' if x is not None else '-'}"
            )
        parts.append(text)
    line = "[issue 8] llm proxy added p50 over direct: " + "; ".join(parts)
    if "skipped" in peer:
        line += f"\n  LiteLLM peer skipped: {peer['skipped']}"
    elif peer.get("version"):
        line += f" (LiteLLM {peer['version']}, same run)"
    return line


def table(out: dict[str, Any]) -> str:
    """The short terminal table."""
    lines = [
        f"Labs Agent Runtime benchmark ({out['kind']}) on {out['machine']['nproc']} x "
        f"{out['machine']['cpu_model']}, {out['machine']['ram_gb']} GB — {out['noise']}",
        "",
    ]
    lines.append(
        f"{'end to end (MARKET analyze_market)':<34}{'exec/s':>9}{'reply p50/p99 ms':>19}"
        f"{'visible p50/p95/p99 ms':>29}{'lag p50/p99 ms':>17}{'CPU ms/ex':>11}"
    )
    for name, r in _get(out, "e2e", default={}).items():
        sr, sv, lg = r["submit_reply_ms"], r["submit_to_visible_ms"], r["projection_lag_ms"]
        lines.append(
            f"{name:<34}{_f(r['executions_per_s']):>9}"
            f"{_f(sr.get('p50')) + ' / ' + _f(sr.get('p99')):>19}"
            f"{_f(sv.get('p50')) + ' / ' + _f(sv.get('p95')) + ' / ' + _f(sv.get('p99')):>29}"
            f"{_f(lg.get('p50')) + ' / ' + _f(lg.get('p99')):>17}{_f(r['cpu_ms_per_execution']):>11}"
        )
    best = best_full_speed(out)
    if best:
        lines.append(
            f"stored per execution: stream {_f(best['stream_bytes_per_execution'], 0)} B "
            f"({_f(best['stream_messages_per_execution'])} events; at rest in sealed S2 blocks "
            f"{_f(_get(out, 'stream_at_rest', 'bytes_per_execution'), 0)} B), PG runtime "
            f"{_f(best['pg_bytes_per_execution']['runtime'], 0)} B, PG metrics {_f(best['pg_bytes_per_execution']['metrics'], 0)} B"
        )
    mem_r, mem_l = _get(out, "memory_at_rest_mb", default={}), _get(out, "memory_final_mb", default={})
    if mem_r:
        lines.append(
            "RSS MB at rest / peak: "
            + ", ".join(
                f"{k} {mem_r[k]['rss_mb']:.0f}/{_get(mem_l, k, 'hwm_mb', default=0):.0f}"
                for k in sorted(mem_r)
            )
        )
    rb = _get(out, "rebuild", default={})
    if rb:
        lines.append(
            "rebuild events/s: "
            + ", ".join(f"{k} {_f(v['events_per_s'], 0)} ({v['events']})" for k, v in rb.items())
        )
    lim = _get(out, "limits", default={})
    if lim:
        j, p = lim["jetstream"], lim["postgres"]
        lines.append(
            f"limits: JetStream {_f(j['publishes_per_s'], 0)} publishes/s pipelined ({j['message_bytes']} B), "
            f"{_f(j['sequential_publish_p50_ms'], 2)} ms sequential p50; PostgreSQL {_f(p['executemany_rows_per_s'], 0)} "
            f"rows/s executemany, {_f(p['copy_rows_per_s'], 0)} COPY, {_f(p['single_commit_rows_per_s'], 0)} one per commit"
        )
        g = lim.get("grpc")
        if g:
            lines.append(
                f"limits: empty unary gRPC call ({g['message_bytes']} B): {_f(g['calls_per_s'], 0)} calls/s at "
                f"c={g['concurrency']}, CPU per call server {_f(g['server_cpu_ms_per_call'], 3)} ms + client "
                f"{_f(g['client_cpu_ms_per_call'], 3)} ms, sequential p50 {_f(g['sequential_p50_ms'], 2)} ms"
            )
    cel = _get(out, "celery", default={})
    if "tasks_per_s" in cel:
        lines.append(
            f"peer Celery {cel['celery']} + Redis ({cel['worker']}): {_f(cel['tasks_per_s'])} no-op tasks/s, "
            f"delay().get() p50/p99 {_f(cel['round_trip_ms']['p50'], 2)}/{_f(cel['round_trip_ms']['p99'], 2)} ms, "
            f"{_f(cel['cpu_ms_per_task_server_side'], 2)} ms CPU/task (worker+redis)"
        )
    elif cel:
        lines.append(f"peer Celery: {cel.get('error')}")
    comp = _get(out, "components", default={})
    if comp:
        t, g, w, o = (
            comp.get("tools", {}),
            comp.get("gateway", {}),
            comp.get("workers", {}),
            comp.get("runtime_overhead", {}),
        )
        m = comp.get("metrics", {})
        if t:
            lines.append(
                f"[issue 4] tools get_listings: {_f(t['invocations_per_s'], 0)} calls/s (c={t['concurrency']}), "
                f"p50 {_f(t['latency_ms']['p50'], 2)} ms of which in tool {_f(t['in_tool_ms']['p50'], 2)} ms "
                "(one question asked again: memoised)"
            )
        distinct = _get(out, "components_standalone", "tools", "result", "get_listings_distinct", default={})
        if distinct.get("invocations_per_s"):
            lines.append(
                f"[issue 4] tools get_listings, a new question every call: {_f(distinct['invocations_per_s'], 0)} "
                f"calls/s, {_f(distinct['service_cpu_ms_per_call'], 2)} ms service CPU/call, "
                f"p50 {_f(distinct['latency_ms']['p50'], 2)} ms (in tool {_f(distinct['in_tool_ms']['p50'], 2)})"
            )
        if w:
            lines.append(
                f"[issue 3] workers: one {_f(w['one_worker_per_s'])}/s, two {_f(w['two_workers_per_s'])}/s; "
                f"runtime overhead p50 {_f(o.get('overhead_ms', {}).get('p50'), 2)} ms/execution"
            )
        if g:
            lines.append(
                f"[issue 6] gateway: +{_f(g['added_p50_ms_http'], 2)} ms HTTP, +{_f(g['added_p50_ms_grpc'], 2)} ms gRPC "
                f"at p50 over direct; {_f(g['http_via_gateway_req_per_s'], 0)} HTTP req/s vs "
                f"{_f(g['grpc_direct_runtime_req_per_s'], 0)} direct gRPC req/s"
            )
        if m:
            lines.append(
                f"[issue 5] GetMetrics over {m['executions_in_read_model']} executions: 30d p50/p99 "
                f"{_f(m['get_metrics_30d_ms']['p50'], 2)}/{_f(m['get_metrics_30d_ms']['p99'], 2)} ms, "
                f"24h p50 {_f(m['get_metrics_24h_ms']['p50'], 2)} ms"
            )
    llm = _get(out, "components_standalone", "llm", default={})
    if llm:
        lines.append(llm_line(llm))
    cold = _get(out, "cold_start", default={})
    if cold:
        lines.append(
            f"[issue 4] analyze_market_price right after start {cold.get('fresh_tables_ms')} ms, "
            f"after ANALYZE {cold.get('after_analyze_ms')} ms (the runs above are after ANALYZE)"
        )
    prof = _get(out, "profile", default={})
    if prof.get("self_top"):
        lines.append(
            f"profile of {prof['process']}: " + "; ".join(f"{f} {p}%" for f, p in prof["self_top"][:5])
        )
    lines.append("")
    lines.append("aims (issue 7):")
    for a in _get(out, "aims", default=[]):
        mark = {True: "met", False: "NOT met", None: "n/a"}[a["met"]]
        lines.append(f"  {a['aim']:<52} {_f(a['measured'], 2):>12}  target {a['target']:<10} {mark}")
    return "\n".join(lines)
