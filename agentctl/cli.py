"""agentctl: run, watch, cancel and inspect agent executions through the gateway over gRPC.

    agentctl run MARKET analyze_market --input '{"category": "electronics"}' --wait
    agentctl status <id> | cancel <id> | history MARKET | metrics --period 24h | agents
    agentctl events <id> --follow

The gateway's address: --addr or AGENTCTL_ADDR (default 127.0.0.1:50050). The API key:
LABS_API_KEY (sent as `authorization: Bearer <key>`). --json prints proto3 JSON for scripts.
Exit codes: 0 ok, 1 error, 2 usage, 3 no or bad key, 4 permission denied, 5 not found,
6 rate limited, 7 gateway or backend unavailable, 8 the execution did not complete.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import grpc
from google.protobuf import struct_pb2
from labs.agents.v1 import agent_service_pb2 as pb
from labs.agents.v1 import agent_service_pb2_grpc as pb_grpc

from agentctl.output import Spinner, fmt_ms, print_json, table, to_obj
from labs_core.settings import DEFAULT_PORTS

DEFAULT_ADDR = f"127.0.0.1:{DEFAULT_PORTS['gateway']}"
TERMINAL = {pb.COMPLETED, pb.FAILED, pb.CANCELLED, pb.TIMED_OUT, pb.BUDGET_EXCEEDED}
EXIT_BY_CODE = {
    grpc.StatusCode.UNAUTHENTICATED: 3,
    grpc.StatusCode.PERMISSION_DENIED: 4,
    grpc.StatusCode.NOT_FOUND: 5,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 6,
    grpc.StatusCode.UNAVAILABLE: 7,
}
EXIT_NOT_COMPLETED = 8
_SERVICE = pb.DESCRIPTOR.services_by_name["AgentService"]


class UsageError(Exception):
    """Bad arguments: exit 2 with the message."""


def status_name(value: int) -> str:
    """An ExecutionStatus value's name."""
    return str(pb.ExecutionStatus.Name(value))


def explain(err: grpc.aio.AioRpcError, addr: str) -> str:
    """A clear message for a failed call."""
    code, details = err.code(), err.details() or ""
    if code == grpc.StatusCode.UNAUTHENTICATED:
        hint = (
            "set LABS_API_KEY to a valid key" if not os.environ.get("LABS_API_KEY") else "check LABS_API_KEY"
        )
        return f"not authenticated (401): {details}; {hint}"
    if code == grpc.StatusCode.PERMISSION_DENIED:
        return f"permission denied (403): {details}"
    if code == grpc.StatusCode.NOT_FOUND:
        return f"not found (404): {details}"
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry = dict(err.trailing_metadata() or ()).get("retry-after")
        return f"rate limited (429): {details}" + (f"; retry in {retry}s" if retry else "")
    if code == grpc.StatusCode.UNAVAILABLE:
        return f"cannot reach the gateway at {addr} (or its backend): {details}"
    if code == grpc.StatusCode.INVALID_ARGUMENT:
        return f"invalid request: {details}"
    return f"{code.name}: {details}"


class Client:
    """The commands, over one channel to the gateway."""

    def __init__(self, stub: pb_grpc.AgentServiceStub, args: argparse.Namespace) -> None:
        self.stub = stub
        self.args = args
        key = os.environ.get("LABS_API_KEY", "")
        self.md: tuple[tuple[str, str], ...] = (("authorization", f"Bearer {key}"),) if key else ()
        self.timeout = args.timeout

    def out(self, msg: Any) -> None:
        """Print a message as JSON."""
        print_json(to_obj(msg) if hasattr(msg, "DESCRIPTOR") else msg)

    async def run(self) -> int:
        """Submit, then optionally wait or follow."""
        a = self.args
        try:
            data = json.loads(a.input)
        except json.JSONDecodeError as e:
            raise UsageError(f"--input is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise UsageError("--input must be a JSON object")
        inp = struct_pb2.Struct()
        inp.update(data)
        req = pb.ExecuteRequest(type=a.type, action=a.action, input=inp, request_id=a.request_id or "")
        reply = await self.stub.Execute(req, metadata=self.md, timeout=self.timeout)
        if a.follow:
            if not a.json:
                print(f"execution {reply.execution_id} {status_name(reply.status)}", file=sys.stderr)
            rc = await self.follow_events(reply.execution_id)
            return rc if rc else await self.final(reply.execution_id, quiet=a.json)
        if not a.wait:
            if a.json:
                self.out(reply)
            else:
                print(reply.execution_id)
                print(f"{status_name(reply.status)}  (agentctl status {reply.execution_id})", file=sys.stderr)
            return 0
        return await self.wait(reply.execution_id)

    async def wait(self, execution_id: str) -> int:
        """Poll until the execution ends, with a spinner on a terminal."""
        spin = Spinner()
        start = time.monotonic()
        delay = 0.2
        try:
            while True:
                ex = (
                    await self.stub.GetExecution(
                        pb.GetExecutionRequest(execution_id=execution_id),
                        metadata=self.md,
                        timeout=self.timeout,
                    )
                ).execution
                if ex.status in TERMINAL:
                    break
                spin.tick(f"{execution_id} {status_name(ex.status)} {time.monotonic() - start:.1f}s")
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 1.5)
        finally:
            spin.done()
        return self.show_execution(ex)

    async def final(self, execution_id: str, *, quiet: bool) -> int:
        """The execution at the end of a follow."""
        ex = (
            await self.stub.GetExecution(
                pb.GetExecutionRequest(execution_id=execution_id), metadata=self.md, timeout=self.timeout
            )
        ).execution
        if quiet:
            return 0 if ex.status == pb.COMPLETED else EXIT_NOT_COMPLETED
        return self.show_execution(ex)

    def show_execution(self, ex: pb.Execution) -> int:
        """Print an execution; the exit code says whether it completed."""
        if self.args.json:
            self.out(ex)
        else:
            rows = [
                ("execution", ex.execution_id),
                ("agent", f"{ex.agent_type} {ex.action}"),
                ("status", status_name(ex.status)),
                ("attempts", ex.attempts),
                ("duration", fmt_ms(ex.duration_ms)),
                ("tokens", ex.token_usage.total),
                ("cost", f"${ex.cost_usd:.4f}"),
                ("tool calls", ", ".join(f"{t.tool}:{t.outcome}" for t in ex.tool_calls) or "-"),
                ("submitted by", ex.submitted_by or "-"),
            ]
            if ex.HasField("error"):
                rows.append(("error", f"{ex.error.category}: {ex.error.message}"))
            for k, v in rows:
                print(f"{k:<13} {v}")
            if ex.HasField("output"):
                print("output        " + json.dumps(to_obj(ex.output), ensure_ascii=False))
        if ex.status not in TERMINAL:
            return 0
        return 0 if ex.status == pb.COMPLETED else EXIT_NOT_COMPLETED

    async def status(self) -> int:
        """One execution."""
        reply = await self.stub.GetExecution(
            pb.GetExecutionRequest(execution_id=self.args.id), metadata=self.md, timeout=self.timeout
        )
        return self.show_execution(reply.execution)

    async def cancel(self) -> int:
        """Ask an execution to stop."""
        reply = await self.stub.CancelExecution(
            pb.CancelExecutionRequest(execution_id=self.args.id, reason=self.args.reason or ""),
            metadata=self.md,
            timeout=self.timeout,
        )
        if self.args.json:
            self.out(reply)
        else:
            what = "cancellation requested" if reply.cancellation_requested else "not cancelled"
            print(f"{reply.execution_id}: {what} (status {status_name(reply.status)})")
        return 0

    async def history(self) -> int:
        """An agent's executions."""
        a = self.args
        req = pb.ListExecutionHistoryRequest(agent=a.agent, page_size=a.limit, page_token=a.page_token or "")
        for s in a.status or ():
            try:
                req.status.append(pb.ExecutionStatus.Value(s.upper()))  # type: ignore[arg-type]
            except ValueError:
                raise UsageError(
                    f"--status {s}: not one of {', '.join(pb.ExecutionStatus.keys()[1:])}"
                ) from None
        reply = await self.stub.ListExecutionHistory(req, metadata=self.md, timeout=self.timeout)
        if a.json:
            self.out(reply)
            return 0
        table(
            ("EXECUTION", "ACTION", "STATUS", "QUEUED", "DURATION", "TOKENS", "ERROR"),
            [
                (
                    e.execution_id,
                    e.action,
                    status_name(e.status),
                    e.queued_at.ToDatetime().strftime("%Y-%m-%d %H:%M:%S") if e.HasField("queued_at") else "",
                    fmt_ms(e.duration_ms),
                    e.tokens,
                    e.error_category,
                )
                for e in reply.executions
            ],
        )
        s = reply.summary
        print(
            f"\n{reply.total_size} executions, success {s.success_rate:.0%}, p50 {fmt_ms(s.p50_ms)}, p95 {fmt_ms(s.p95_ms)}"
        )
        if reply.next_page_token:
            print(f"more: --page-token {reply.next_page_token}")
        return 0

    async def metrics(self) -> int:
        """Figures for a period."""
        reply = await self.stub.GetMetrics(
            pb.GetMetricsRequest(period=self.args.period, agent_type=self.args.agent or ""),
            metadata=self.md,
            timeout=self.timeout,
        )
        if self.args.json:
            self.out(reply)
            return 0
        rows = [
            (
                m.agent_type or "(all)",
                m.executions,
                f"{m.success_rate:.0%}",
                fmt_ms(m.latency.p50_ms),
                fmt_ms(m.latency.p95_ms),
                m.tokens_in + m.tokens_out,
                f"${m.cost_usd:.4f}",
            )
            for m in [*reply.agents, reply.total]
        ]
        print(
            f"period {reply.period}; queue: {reply.queue.pending} pending, {reply.queue.in_flight} in flight"
        )
        table(("AGENT", "EXECUTIONS", "SUCCESS", "P50", "P95", "TOKENS", "COST"), rows)
        return 0

    async def agents(self) -> int:
        """The registered agent types."""
        reply = await self.stub.ListAgents(pb.ListAgentsRequest(), metadata=self.md, timeout=self.timeout)
        if self.args.json:
            self.out(reply)
            return 0
        table(
            ("TYPE", "VERSION", "ACTIONS", "TOOLS", "WORKERS", "RUNNING", "QUEUED"),
            [
                (
                    a.type,
                    a.version,
                    ",".join(a.actions),
                    len(a.allowed_tools),
                    a.availability.workers_online,
                    a.availability.executions_running,
                    a.availability.queue_depth,
                )
                for a in reply.agents
            ],
        )
        return 0

    async def events(self) -> int:
        """An execution's events: one page, or followed live until its end."""
        if self.args.follow:
            return await self.follow_events(self.args.id)
        if "ListExecutionEvents" not in _SERVICE.methods_by_name:
            print("this agentctl's protos have no ListExecutionEvents; upgrade agentctl", file=sys.stderr)
            return 1
        req = pb.ListExecutionEventsRequest(execution_id=self.args.id)
        while True:
            reply = await self.stub.ListExecutionEvents(req, metadata=self.md, timeout=self.timeout)
            for ev in reply.events:
                self.show_event(ev)
            if not reply.next_page_token:
                return 0
            req.page_token = reply.next_page_token

    async def follow_events(self, execution_id: str) -> int:
        """Follow an execution's events until its terminal one (resuming after a drop)."""
        if "FollowExecutionEvents" not in _SERVICE.methods_by_name:
            print(
                "the gateway's API as known to this agentctl has no FollowExecutionEvents; "
                "use `agentctl run --wait` or `agentctl status`",
                file=sys.stderr,
            )
            return 1
        after = 0
        for _ in range(5):
            call = self.stub.FollowExecutionEvents(
                pb.FollowExecutionEventsRequest(execution_id=execution_id, from_sequence=after + 1),
                metadata=self.md,
                timeout=max(self.timeout, 600.0),
            )
            try:
                async for item in call:
                    self.show_event(item.event)
                    after = item.event.sequence
                return 0
            except grpc.aio.AioRpcError as e:
                if e.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                await asyncio.sleep(0.5)  # a dropped stream: resume after the last event seen
        return 7

    def show_event(self, ev: pb.ExecutionEvent) -> None:
        """One event line."""
        if self.args.json:
            self.out(ev)
            return
        when = ev.time.ToDatetime().strftime("%H:%M:%S.%f")[:-3] if ev.HasField("time") else ""
        payload = json.dumps(to_obj(ev.payload), ensure_ascii=False) if ev.HasField("payload") else ""
        if len(payload) > 100:
            payload = payload[:97] + "..."
        print(f"{ev.sequence:>8} {when} {ev.type:<26} {ev.actor:<12} {payload}", flush=True)


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(
        prog="agentctl", description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    p.add_argument(
        "--addr", default=os.environ.get("AGENTCTL_ADDR", DEFAULT_ADDR), help="gateway gRPC host:port"
    )
    p.add_argument("--json", action="store_true", help="proto3 JSON output, one document per line")
    p.add_argument("--timeout", type=float, default=30.0, help="deadline of each call, seconds")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="submit a task")
    r.add_argument("type")
    r.add_argument("action")
    r.add_argument("--input", default="{}", help="the action's input, a JSON object")
    r.add_argument("--request-id", help="idempotency key")
    g = r.add_mutually_exclusive_group()
    g.add_argument("--wait", action="store_true", help="wait until it ends, then print it")
    g.add_argument("--follow", action="store_true", help="print its events live until it ends")
    for name, helptext in (("status", "one execution"), ("cancel", "ask an execution to stop")):
        c = sub.add_parser(name, help=helptext)
        c.add_argument("id")
        if name == "cancel":
            c.add_argument("--reason")
    h = sub.add_parser("history", help="an agent's executions")
    h.add_argument("agent")
    h.add_argument("--status", action="append", help="only this status (repeatable)")
    h.add_argument("--limit", type=int, default=20)
    h.add_argument("--page-token")
    m = sub.add_parser("metrics", help="figures for a period")
    m.add_argument("--period", default="24h", choices=("1h", "24h", "7d", "30d"))
    m.add_argument("--agent")
    sub.add_parser("agents", help="the registered agent types")
    e = sub.add_parser("events", help="an execution's events")
    e.add_argument("id")
    e.add_argument("--follow", action="store_true", help="live until the execution ends")
    return p


async def _run(args: argparse.Namespace) -> int:
    async with grpc.aio.insecure_channel(args.addr) as channel:
        client = Client(pb_grpc.AgentServiceStub(channel), args)
        command = getattr(client, args.command)
        try:
            return int(await command())
        except grpc.aio.AioRpcError as e:
            print(f"agentctl: {explain(e, args.addr)}", file=sys.stderr)
            return EXIT_BY_CODE.get(e.code(), 1)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `agentctl`."""
    args = parser().parse_args(argv)
    try:
        return asyncio.run(_run(args))
    except UsageError as e:
        print(f"agentctl: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
