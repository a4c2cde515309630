"""The registry and the invoker with in-process tools: schemas, permissions, limits (no servers)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from labs_core.errors import InvalidArgument
from services.tools.domain.errors import (
    ArgumentsInvalid,
    ToolBusy,
    ToolFailed,
    ToolNotFound,
    ToolNotPermitted,
    ToolTimedOut,
)
from services.tools.domain.registry import Memo, Registry, ToolContext, ToolDefinition
from services.tools.service_layer.invoker import Invoker, LimitPolicy

PARAMS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["symbol", "quantity"],
    "properties": {
        "symbol": {"type": "string", "minLength": 1},
        "quantity": {"type": "integer", "minimum": 1},
        "tags": {"type": "array", "items": {"type": "string"}},
        "window": {
            "type": "object",
            "properties": {"days": {"type": "integer", "maximum": 365}},
            "required": ["days"],
        },
    },
}
RESULT = {"type": "object", "required": ["echo"], "properties": {"echo": {"type": "object"}}}


async def echo(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
    return {"echo": args}


def registry() -> Registry:
    r = Registry()
    r.register_tool(
        name="echo_tool",
        version="1.0.0",
        description="Echo",
        category="analytics",
        parameters=PARAMS,
        result=RESULT,
        agent_types=["market"],
        execute=echo,
    )
    return r


ANALYTICS = ToolContext(agent_type="ANALYTICS", role="operator")


async def test_valid_call_returns_the_result_and_its_duration() -> None:
    out = await Invoker(registry()).invoke("echo_tool", {"symbol": "X", "quantity": 2}, ANALYTICS)
    assert out.result == {"echo": {"symbol": "X", "quantity": 2}}
    assert out.duration_us >= 0


async def test_every_failing_field_is_named() -> None:
    args = {"symbol": "", "quantity": 0.5, "tags": ["a", 3], "window": {"days": 999}, "colour": "red"}
    with pytest.raises(ArgumentsInvalid) as e:
        await Invoker(registry()).invoke("echo_tool", args, ANALYTICS)
    fields = [f for f, _ in e.value.violations]
    assert fields == [
        "arguments.colour",
        "arguments.quantity",  # not an integer
        "arguments.quantity",  # and below the minimum
        "arguments.symbol",
        "arguments.tags[1]",
        "arguments.window.days",
    ]
    reasons = dict(e.value.violations)
    assert reasons["arguments.colour"] == "is not a known field"
    assert any("integer" in r for f, r in e.value.violations if f == "arguments.quantity")
    with pytest.raises(ArgumentsInvalid) as e2:
        await Invoker(registry()).invoke("echo_tool", {"window": {}}, ANALYTICS)
    assert [f for f, _ in e2.value.violations] == [
        "arguments.quantity",
        "arguments.symbol",
        "arguments.window.days",
    ]
    assert all(r == "is required" for _, r in e2.value.violations)


async def test_agent_types_follow_category_and_grants() -> None:
    reg = registry()
    tool = reg.get("echo_tool")
    assert tool is not None and tool.definition.agent_types == ("ANALYTICS", "MARKET")
    inv = Invoker(reg)
    await inv.invoke(
        "echo_tool", {"symbol": "X", "quantity": 1}, ToolContext(agent_type="market", role="operator")
    )
    with pytest.raises(ToolNotPermitted) as e:
        await inv.invoke(
            "echo_tool", {"symbol": "X", "quantity": 1}, ToolContext(agent_type="CONTENT", role="operator")
        )
    assert "CONTENT" in str(e.value) and "echo_tool" in str(e.value)
    assert [d.name for d in reg.list(agent_type="MARKET")] == ["echo_tool"]
    assert reg.list(agent_type="ADMIN") == [] and reg.list(category="system") == []


async def test_unknown_tool_and_missing_agent_type() -> None:
    with pytest.raises(ToolNotFound):
        await Invoker(registry()).invoke("nope", {}, ANALYTICS)
    with pytest.raises(InvalidArgument) as e:
        await Invoker(registry()).invoke("echo_tool", {}, ToolContext(agent_type="", role="operator"))
    assert e.value.field == "agent_type"


async def test_definitions_are_checked_at_registration() -> None:
    with pytest.raises(ValueError, match="category"):
        ToolDefinition(
            name="x", version="1", description="", category="finance", parameters={"type": "object"}
        )
    with pytest.raises(ValueError, match="JSON Schema"):
        ToolDefinition(name="x", version="1", description="", category="system", parameters={"type": 3})
    with pytest.raises(ValueError, match="registered twice"):
        r = registry()
        r.register_tool(
            name="echo_tool", version="2", description="", category="system", parameters=PARAMS, execute=echo
        )


async def test_concurrency_limit_refuses_instead_of_queueing() -> None:
    release = asyncio.Event()
    started = 0

    async def slow(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        nonlocal started
        started += 1
        await release.wait()
        return {}

    reg = Registry()
    reg.register_tool(
        name="slow",
        version="1",
        description="",
        category="system",
        parameters={"type": "object"},
        execute=slow,
    )
    inv = Invoker(reg, LimitPolicy(max_concurrency=2, overrides={}))
    admin = ToolContext(agent_type="ADMIN", role="admin")
    async with asyncio.timeout(5):
        running = [asyncio.create_task(inv.invoke("slow", {}, admin)) for _ in range(2)]
        while started < 2:
            await asyncio.sleep(0.01)
        with pytest.raises(ToolBusy):
            await inv.invoke("slow", {}, admin)
        assert inv.in_flight("slow") == 2
        release.set()
        await asyncio.gather(*running)
        assert inv.in_flight("slow") == 0
        await inv.invoke("slow", {}, admin)  # a slot is free again


async def test_timeout_invalid_result_crash_and_idempotency_key() -> None:
    async def sleepy(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    async def liar(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        return {"echo": "not an object"}

    async def broken(args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        raise KeyError("boom")

    reg = Registry()
    obj = {"type": "object"}
    reg.register_tool(
        name="sleepy", version="1", description="", category="system", parameters=obj, execute=sleepy
    )
    reg.register_tool(
        name="liar",
        version="1",
        description="",
        category="system",
        parameters=obj,
        result=RESULT,
        execute=liar,
    )
    reg.register_tool(
        name="broken", version="1", description="", category="system", parameters=obj, execute=broken
    )
    reg.register_tool(
        name="writer",
        version="1",
        description="",
        category="system",
        parameters=obj,
        execute=echo,
        side_effects=True,
    )
    inv = Invoker(reg, LimitPolicy(timeout_s=10, overrides={"sleepy": {"timeout_s": 0.05}}))
    admin = ToolContext(agent_type="ADMIN", role="admin")
    assert inv.limits("sleepy").timeout_s == 0.05 and inv.limits("liar").timeout_s == 10
    with pytest.raises(ToolTimedOut):
        await inv.invoke("sleepy", {}, admin)
    assert inv.in_flight("sleepy") == 0
    with pytest.raises(ToolFailed, match=r"result\.echo"):
        await inv.invoke("liar", {}, admin)
    with pytest.raises(ToolFailed, match="KeyError"):
        await inv.invoke("broken", {}, admin)
    with pytest.raises(InvalidArgument) as e:
        await inv.invoke("writer", {}, admin)
    assert e.value.field == "idempotency_key"
    await inv.invoke("writer", {}, ToolContext(agent_type="ADMIN", idempotency_key="k1", role="admin"))


class _Counted:
    """A read-only tool over a versioned 'read model' (a counter the test moves), counting runs."""

    def __init__(self) -> None:
        self.version = 1
        self.runs = 0
        self.fail = False

    async def __call__(self, args: dict[str, Any], ctx: ToolContext) -> dict[str, Any]:
        self.runs += 1
        await asyncio.sleep(0.01)
        if self.fail:
            raise RuntimeError("read model unavailable")
        return {"echo": {"symbol": args["symbol"], "version": self.version, "asked_by": "any"}}


def _memo_registry(tool: _Counted, max_age_s: float | None = None) -> Registry:
    r = Registry()
    r.add(_definition("quote", result=RESULT), tool, memo=Memo(lambda: tool.version, max_age_s=max_age_s))
    return r


def _definition(name: str, **kw: Any) -> ToolDefinition:
    return ToolDefinition(
        name=name, version="1.0.0", description=name, category="analytics", parameters=PARAMS, **kw
    )


async def test_a_memoised_tool_answers_again_until_its_read_model_moves() -> None:
    tool = _Counted()
    inv = Invoker(_memo_registry(tool))
    first = await inv.invoke("quote", {"symbol": "A", "quantity": 1}, ANALYTICS)
    assert tool.runs == 1 and not first.memoised and first.result_struct is not None
    # Same arguments in another key order, another caller: given again, not run.
    again = await inv.invoke(
        "quote",
        {"quantity": 1, "symbol": "A"},
        ToolContext(agent_type="ANALYTICS", execution_id="x", role="operator"),
    )
    assert tool.runs == 1 and again.memoised and again.result == first.result
    assert again.result_struct is first.result_struct
    assert again.result_struct["echo"]["version"] == 1  # type: ignore[index]
    # Other arguments: run. A concurrent burst of one new question: run once.
    await asyncio.gather(*(inv.invoke("quote", {"symbol": "B", "quantity": 1}, ANALYTICS) for _ in range(5)))
    assert tool.runs == 2
    # The read model moved: the next call runs again and sees it.
    tool.version = 2
    moved = await inv.invoke("quote", {"symbol": "A", "quantity": 1}, ANALYTICS)
    assert tool.runs == 3 and not moved.memoised and moved.result["echo"]["version"] == 2
    # Permission and arguments are still checked on every call.
    with pytest.raises(ToolNotPermitted):
        await inv.invoke(
            "quote", {"symbol": "A", "quantity": 1}, ToolContext(agent_type="MARKET", role="operator")
        )
    with pytest.raises(ArgumentsInvalid):
        await inv.invoke("quote", {"symbol": "A", "quantity": 0}, ANALYTICS)
    # Off: every call runs.
    off = Invoker(_memo_registry(tool), memo_entries=0)
    await off.invoke("quote", {"symbol": "A", "quantity": 1}, ANALYTICS)
    await off.invoke("quote", {"symbol": "A", "quantity": 1}, ANALYTICS)
    assert tool.runs == 5


async def test_a_memoised_answer_ages_and_a_failure_is_not_remembered() -> None:
    tool = _Counted()
    inv = Invoker(_memo_registry(tool, max_age_s=0.05))
    args = {"symbol": "A", "quantity": 1}
    await inv.invoke("quote", args, ANALYTICS)
    await inv.invoke("quote", args, ANALYTICS)
    assert tool.runs == 1
    await asyncio.sleep(0.06)
    await inv.invoke("quote", args, ANALYTICS)
    assert tool.runs == 2  # older than max_age_s: run again
    tool.version, tool.fail = 3, True
    with pytest.raises(ToolFailed):
        await inv.invoke("quote", args, ANALYTICS)
    tool.fail = False
    ok = await inv.invoke("quote", args, ANALYTICS)
    assert tool.runs == 4 and ok.result["echo"]["version"] == 3


def test_a_tool_with_side_effects_cannot_be_memoised() -> None:
    with pytest.raises(ValueError, match="side effects"):
        Registry().add(_definition("buy", side_effects=True), echo, memo=Memo(lambda: 1))
