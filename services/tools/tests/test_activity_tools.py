# ruff: noqa: F811
# (the `rig` fixture is imported, then named by each test)
"""The activity tools on real NATS, Postgres, a real gRPC model server and a real HTTP receiver."""

from __future__ import annotations

import csv
import io
import json
import time
from html.parser import HTMLParser
from typing import Any

import pytest
from labs.events.v1 import execution_pb2, llm_pb2

from labs_core.eventlog import EventLog, new_event
from services.tools.domain.errors import ArgumentsInvalid, ToolNotPermitted
from services.tools.tests.activity_fixtures import SECRET, Rig, rig  # noqa: F401

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.timeout(30)]


async def _execution(
    log: EventLog,
    eid: str,
    actor: str,
    agent: str,
    end: str,
    tokens: tuple[int, int] = (0, 0),
    cost: float = 0.0,
) -> int:
    now = time.time_ns()
    evs = [
        new_event(
            "execution",
            eid,
            actor=actor,
            occurred_at_ns=now - 2_000_000_000,
            execution_requested=execution_pb2.ExecutionRequested(agent_type=agent, action="x"),
        ),
        new_event(
            "execution",
            eid,
            occurred_at_ns=now - 1_500_000_000,
            execution_started=execution_pb2.ExecutionStarted(attempt=1),
        ),
    ]
    if tokens != (0, 0):
        evs.append(
            new_event(
                "execution",
                eid,
                occurred_at_ns=now - 1_000_000_000,
                model_call_completed=execution_pb2.ModelCallCompleted(
                    step=1, tokens_in=tokens[0], tokens_out=tokens[1], cost_usd=cost
                ),
            )
        )
    if end == "completed":
        evs.append(
            new_event(
                "execution", eid, occurred_at_ns=now, execution_completed=execution_pb2.ExecutionCompleted()
            )
        )
    elif end == "failed":
        evs.append(
            new_event("execution", eid, occurred_at_ns=now, execution_failed=execution_pb2.ExecutionFailed())
        )
    seq = 0
    for e in evs:
        seq = (await log.append(e)).sequence
    return seq


async def test_user_metrics_and_reports_on_projected_events(rig: Rig, eventlog: EventLog) -> None:
    await _execution(eventlog, "e1", "alice", "MARKET", "completed", (100, 50), 0.01)
    await _execution(eventlog, "e2", "alice", "CONTENT", "failed", (10, 0), 0.001)
    await _execution(eventlog, "e3", "alice", "MARKET", "running")
    # A model call a tool made for e2, as the model proxy recorded it (not in e2's own events).
    await eventlog.append(
        new_event(
            "llmcall",
            "call-1",
            correlation_id="e2",
            model_call_recorded=llm_pb2.ModelCallRecorded(input_tokens=30, output_tokens=20, cost_usd=0.002),
        )
    )
    last = await _execution(eventlog, "e4", "bob", "MARKET", "completed", (7, 7), 0.5)
    await rig.call(
        "create_listing",
        {"title": "Oak table", "category": "furniture", "price": 120, "seller": "alice"},
        "MARKET",
        "l1",
    )
    await rig.call(
        "send_notification",
        {"channel": "in_app", "recipient": "alice", "subject": "Hi", "body": "b"},
        "ADMIN",
        "n1",
    )
    assert await rig.tools.projector.wait_for(last, 10)

    m = await rig.call("get_user_metrics", {"user": "alice", "period": "1h"}, "ANALYTICS")
    assert m["executions"] == {
        "executions": 3,
        "completed": 1,
        "failed": 1,
        "timed_out": 0,
        "cancelled": 0,
        "in_progress": 1,
        "success_rate": 0.5,
    }
    assert m["tokens"] == {"input": 130, "output": 70, "total": 200}
    assert m["cost_usd"] == pytest.approx(0.012)
    assert m["listings_created"] == 1 and m["notifications_received"] == 1
    assert m["by_agent_type"] == {
        "CONTENT": {"executions": 1, "completed": 0},
        "MARKET": {"executions": 2, "completed": 1},
    }
    nobody = await rig.call("get_user_metrics", {"user": "carol"}, "ADMIN")
    assert nobody["executions"]["executions"] == 0 and nobody["executions"]["success_rate"] is None

    rep = await rig.call("generate_report", {"kind": "agents", "period": "1h", "format": "json"}, "ANALYTICS")
    by = {r["agent_type"]: r for r in rep["data"]}
    assert (
        by["MARKET"]["executions"] == 3
        and by["MARKET"]["completed"] == 2
        and by["MARKET"]["success_rate"] == 1.0
    )
    assert by["MARKET"]["p50_latency_ms"] == pytest.approx(2000, abs=1)
    assert json.loads(rep["content"])["rows"] == rep["data"]

    csv_rep = await rig.call(
        "generate_report", {"kind": "user", "user": "alice", "format": "csv"}, "ANALYTICS"
    )
    rows = list(csv.reader(io.StringIO(csv_rep["content"], newline="")))
    assert rows[0] == csv_rep["columns"] and len(rows) == 3 and csv_rep["content"].endswith("\r\n")
    assert [r[0] for r in rows[1:]] == ["CONTENT", "MARKET"]

    md = await rig.call(
        "generate_report", {"kind": "market", "format": "markdown", "period": "1h"}, "ANALYTICS"
    )
    lines = md["content"].splitlines()
    table = [ln for ln in lines if ln.startswith("|")]
    assert table[0].startswith("| category | listings |") and "furniture" in table[2]


async def test_html_and_csv_escape_hostile_values(rig: Rig, eventlog: EventLog) -> None:
    evil = '=HYPERLINK("x"),<script>alert(1)</script>|"q"'
    last = await _execution(eventlog, "h1", evil, "MARKET", "completed")
    assert await rig.tools.projector.wait_for(last, 10)
    html_rep = await rig.call(
        "generate_report", {"kind": "user", "user": evil, "format": "html"}, "ANALYTICS"
    )
    doc = html_rep["content"]
    assert "<script>" not in doc and "&lt;script&gt;" in doc

    class Cells(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.tags: list[str] = []
            self.title = ""
            self._in_title = False

        def handle_starttag(self, tag: str, attrs: Any) -> None:
            self.tags.append(tag)
            self._in_title = tag == "title"

        def handle_data(self, data: str) -> None:
            if self._in_title:
                self.title += data

    p = Cells()
    p.feed(doc)
    assert {"table", "thead", "tbody", "th", "td"} <= set(p.tags) and evil in p.title

    evil_md = await rig.call(
        "generate_report", {"kind": "agents", "agent_type": "market", "format": "csv"}, "ADMIN"
    )
    assert evil_md["rows"] == 1
    from services.tools.domain.reports import Report, to_csv

    out = to_csv(Report("user", "t", ("a", "b"), ({"a": evil, "b": "line\nbreak"},)))
    row = list(csv.reader(io.StringIO(out, newline="")))[1]
    assert row == ["'" + evil, "line\nbreak"]


async def test_report_and_metrics_validation_and_permissions(rig: Rig) -> None:
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("generate_report", {"kind": "user", "format": "pdf"}, "ANALYTICS")
    fields = {f for f, _ in ei.value.violations}
    assert fields == {"arguments.format", "arguments.user"}
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("generate_report", {"kind": "market", "user": "x"}, "ANALYTICS")
    assert ei.value.field == "arguments.user"
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("get_user_metrics", {"user": "a", "period": "2d"}, "ANALYTICS")
    assert ei.value.field == "arguments.period"
    with pytest.raises(ToolNotPermitted):
        await rig.call("get_user_metrics", {"user": "a"}, "MARKET")
    with pytest.raises(ToolNotPermitted):
        await rig.call("generate_report", {"kind": "agents"}, "CONTENT")
    with pytest.raises(ToolNotPermitted):
        await rig.call("get_system_health", {}, "CONTENT")
    with pytest.raises(ToolNotPermitted):
        await rig.call("generate_content", {"kind": "title", "topic": "bikes"}, "ANALYTICS")
    with pytest.raises(ToolNotPermitted):
        await rig.call("curate_content", {"action": "list"}, "SCHEDULER", "k")
    with pytest.raises(ToolNotPermitted):
        await rig.call(
            "send_notification",
            {"channel": "in_app", "recipient": "a", "subject": "s", "body": "b"},
            "MARKET",
            "k",
        )


async def test_generate_content_limits_usage_and_trimming(rig: Rig) -> None:
    t = await rig.call(
        "generate_content", {"kind": "title", "topic": "oak tables", "tone": "friendly"}, "CONTENT"
    )
    assert t["trimmed"] and len(t["text"]) <= 80 and t["text"].endswith("…") and "\n" not in t["text"]
    assert t["text"][:-1].split(" ")[-1].startswith("word") and not t["text"].startswith('"')
    assert "trimmed to 80" in t["note"]
    assert t["usage"]["output_tokens"] > 0 and t["usage"]["total_tokens"] > t["usage"]["input_tokens"]
    assert t["cost_usd"] == pytest.approx(0.00042) and t["provider"] == "fake"
    assert "Tone: friendly" in rig.model.requests[-1].system

    s = await rig.call("generate_content", {"kind": "social_post", "topic": "bikes"}, "MARKET")
    assert s["trimmed"] and s["length"] == len(s["text"]) <= 280
    every = s["text"][:-1].split(" ")
    assert all(w.startswith("word") and w[4:].isdigit() for w in every)  # no word cut in half

    d = await rig.call("generate_content", {"kind": "description", "topic": "oak table"}, "CONTENT")
    assert not d["trimmed"] and d["text"] == "A sturdy oak table for family dinners." and "note" not in d

    e = await rig.call(
        "generate_content", {"kind": "email", "topic": "spring sale", "keywords": ["bikes"]}, "CONTENT"
    )
    assert e["subject"] == "Spring sale on bikes" and e["body"].startswith("Hello,") and not e["trimmed"]
    assert "Use these keywords: bikes" in rig.model.requests[-1].prompt

    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("generate_content", {"kind": "poem", "topic": "x", "tone": "angry"}, "CONTENT")
    assert {f for f, _ in ei.value.violations} == {"arguments.kind", "arguments.topic", "arguments.tone"}


async def test_curate_collections_event_sourced_and_idempotent(rig: Rig, eventlog: EventLog) -> None:
    c = await rig.call("curate_content", {"action": "create", "name": "Summer picks"}, "CONTENT", "k-create")
    col = c["collection"]
    cid = col["collection_id"]
    assert c["changed"] and col["owner"] == "agent-content" and col["items"] == []
    again = await rig.call(
        "curate_content", {"action": "create", "name": "summer picks "}, "CONTENT", "k-other"
    )
    assert again["collection"]["collection_id"] == cid and not again["changed"]

    items = [
        {"item_id": "a", "title": "A", "score": 1},
        {"item_id": "b", "title": "B", "score": 5},
        {"item_id": "c", "title": "C <c>", "score": 3, "attributes": {"kind": "listing"}},
    ]
    add = await rig.call(
        "curate_content", {"action": "add", "collection_id": cid, "items": items}, "CONTENT", "k-add"
    )
    assert [i["item_id"] for i in add["collection"]["items"]] == ["a", "b", "c"]
    # The same key again: the work is not redone and the first result comes back.
    dup = await rig.call(
        "curate_content", {"action": "add", "collection_id": cid, "items": items}, "CONTENT", "k-add"
    )
    assert dup["collection"] == add["collection"] and not dup["changed"]

    ranked = await rig.call("curate_content", {"action": "rank", "collection_id": cid}, "CONTENT", "k-rank")
    assert [i["item_id"] for i in ranked["collection"]["items"]] == ["b", "c", "a"]
    assert ranked["collection"]["ranked_by"] == "score"
    await rig.call(
        "curate_content", {"action": "remove", "collection_id": cid, "item_ids": ["c"]}, "CONTENT", "k-rm"
    )
    await rig.call(
        "curate_content",
        {"action": "reorder", "collection_id": cid, "item_ids": ["a", "b"]},
        "MARKET",
        "k-re",
    )
    got = await rig.call("curate_content", {"action": "get", "collection_id": cid}, "CONTENT", "k-get")
    assert [(i["item_id"], i["position"]) for i in got["collection"]["items"]] == [("a", 1), ("b", 2)]
    assert got["collection"]["ranked_by"] == "manual" and got["collection"]["version"] == 5
    listed = await rig.call(
        "curate_content", {"action": "list", "owner": "agent-content"}, "CONTENT", "k-list"
    )
    assert [x["item_count"] for x in listed["collections"]] == [2]

    # The read model equals the fold of the log.
    state, _, _ = await rig.tools.collections.load(cid)
    assert [i.item_id for i in state.items] == ["a", "b"] and state.version == 5

    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call(
            "curate_content", {"action": "reorder", "collection_id": cid, "item_ids": ["a"]}, "CONTENT", "k1"
        )
    assert ei.value.field == "arguments.item_ids"
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call(
            "curate_content",
            {"action": "add", "collection_id": cid, "items": [{"item_id": "b"}]},
            "CONTENT",
            "k2",
        )
    assert ei.value.field == "arguments.items[0].item_id"
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("curate_content", {"action": "add", "collection_id": "nope"}, "CONTENT", "k3")
    assert {f for f, _ in ei.value.violations} == {"arguments.collection_id", "arguments.items"}


async def test_in_app_inbox_and_idempotency(rig: Rig) -> None:
    args = {"channel": "in_app", "recipient": "dana", "subject": "Report ready", "body": "See <b>it</b>"}
    first = await rig.call("send_notification", args, "ANALYTICS", "n-1")
    assert first["status"] == "delivered" and first["created"]
    second = await rig.call("send_notification", args, "ANALYTICS", "n-1")
    assert second["notification_id"] == first["notification_id"] and not second["created"]
    await rig.call("send_notification", {**args, "subject": "Second"}, "ANALYTICS", "n-2")
    rows, token, total = await rig.tools.notifications.inbox("dana", page_size=1)
    assert total == 2 and rows[0]["subject"] == "Second" and token
    rows2, token2, _ = await rig.tools.notifications.inbox("dana", page_size=1, page_token=token)
    assert rows2[0]["subject"] == "Report ready" and token2 == ""
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("send_notification", {**args, "webhook": "ok"}, "ADMIN", "n-3")
    assert ei.value.field == "arguments.webhook"


async def test_webhook_signed_retried_and_recorded(rig: Rig, eventlog: EventLog) -> None:
    args = {"channel": "webhook", "recipient": "ops", "subject": "Disk", "body": "92% full", "webhook": "ok"}
    out = await rig.call("send_notification", args, "ADMIN", "w-1")
    assert out["status"] == "delivered" and out["delivery"]["attempts"] == 2  # one 503, then 204
    assert out["delivery"]["status_code"] == 204
    got = rig.receiver.received[-1]
    assert got["body"]["notification_id"] == out["notification_id"] and got["body"]["body"] == "92% full"
    assert got["headers"]["X-Labs-Signature"].startswith("sha256=")
    again = await rig.call("send_notification", args, "ADMIN", "w-1")
    assert again["delivery"] == out["delivery"] and len(rig.receiver.received) == 1  # not sent twice

    broken = await rig.call("send_notification", {**args, "webhook": "broken"}, "ADMIN", "w-2")
    assert broken["status"] == "failed" and broken["delivery"]["attempts"] == 3
    assert broken["delivery"]["status_code"] == 500
    rejected = await rig.call("send_notification", {**args, "webhook": "reject"}, "ADMIN", "w-3")
    assert rejected["delivery"]["attempts"] == 1  # 4xx is not retried

    history = await eventlog.read_aggregate("notification", broken["notification_id"])
    assert [h.event.WhichOneof("payload") for h in history] == [
        "notification_sent",
        "notification_delivery_failed",
    ]
    rows, _, total = await rig.tools.notifications.inbox("ops", channel="webhook")
    assert total == 3 and {r["status"] for r in rows} == {"delivered", "failed"}

    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("send_notification", {**args, "webhook": "http://169.254.169.254"}, "ADMIN", "w-4")
    assert ei.value.field == "arguments.webhook"
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("send_notification", {**args, "webhook": "elsewhere"}, "ADMIN", "w-5")
    assert ei.value.field == "arguments.webhook" and "configured: broken, ok, reject" in ei.value.reason
    bad = dict(args)
    del bad["webhook"]
    with pytest.raises(ArgumentsInvalid) as ei:
        await rig.call("send_notification", bad, "ADMIN", "w-6")
    assert ei.value.field == "arguments.webhook"
    assert SECRET not in json.dumps(out)


async def test_system_health_real_checks(rig: Rig, eventlog: EventLog) -> None:
    h = await rig.call("get_system_health", {"timeout_ms": 1500}, "ADMIN")
    checks = {c["name"]: c for c in h["checks"]}
    assert checks["nats"]["status"] == "ok" and checks["nats"]["details"]["stream"] == eventlog.stream
    assert checks["postgres"]["status"] == "ok" and checks["postgres"]["latency_ms"] > 0
    assert checks["grpc:llm"]["status"] == "ok"
    assert checks["grpc:nowhere"]["status"] == "down" and "error" in checks["grpc:nowhere"]
    # No runtime in this test: its durable consumer does not exist, and the check says so.
    assert checks["consumer:agent-worker"]["status"] == "down"
    assert h["status"] == "down"

    from nats.js import api

    await eventlog.js.add_consumer(
        eventlog.stream, api.ConsumerConfig(durable_name="agent-worker", ack_policy=api.AckPolicy.EXPLICIT)
    )
    h2 = await rig.call("get_system_health", {}, "ANALYTICS")
    lag = next(c for c in h2["checks"] if c["name"] == "consumer:agent-worker")
    assert lag["status"] == "ok" and lag["details"]["num_pending"] == await eventlog.last_sequence()
    assert lag["details"]["num_ack_pending"] == 0
    with pytest.raises(ArgumentsInvalid):
        await rig.call("get_system_health", {"timeout_ms": 1}, "ADMIN")
