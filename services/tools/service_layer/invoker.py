"""Invoking a tool: look it up, check the caller, validate, run within limits, validate the result."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from google.protobuf import struct_pb2

from labs_core.auth import granted, may_run
from labs_core.errors import InvalidArgument, LabsError, PermissionDenied
from labs_core.structs import dict_to_struct
from services.tools.domain.errors import (
    ArgumentsInvalid,
    ToolBusy,
    ToolFailed,
    ToolNotFound,
    ToolNotPermitted,
    ToolTimedOut,
)
from services.tools.domain.registry import JSONObject, Registry, Tool, ToolContext
from services.tools.service_layer.read_cache import ReadCache

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Limits:
    """How long one call may run and how many calls of one tool may run at once."""

    timeout_s: float
    max_concurrency: int


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """Defaults for every tool, then the tool's own defaults, then per-tool overrides."""

    timeout_s: float = 10.0
    max_concurrency: int = 32
    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def for_tool(self, tool: Tool) -> Limits:
        """The limits in force for one tool."""
        d = tool.definition
        own = self.overrides.get(d.name, {})
        timeout = own.get("timeout_s") or d.timeout_s or self.timeout_s
        conc = own.get("max_concurrency") or d.max_concurrency or self.max_concurrency
        return Limits(timeout_s=float(timeout), max_concurrency=int(conc))


@dataclass(frozen=True, slots=True)
class Invocation:
    """The outcome of a successful call: the result and the time spent in the tool.

    A memoised tool's answer also comes as a Struct, built once per answer (shared: copy it,
    never change it); `memoised` says it was given again, so `duration_us` is the lookup's.
    """

    result: JSONObject
    duration_us: int
    result_struct: struct_pb2.Struct | None = None
    memoised: bool = False


class _Slots:
    """A concurrency limit that refuses instead of queueing."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def try_acquire(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def release(self) -> None:
        self.in_use -= 1


class Invoker:
    """Runs registered tools for agents, enforcing permission, schemas, timeouts and concurrency.

    A tool registered with a Memo has its answers memoised per arguments against its read
    model's version (`memo_entries` answers per tool, least recently used evicted): a repeated
    question skips the run, the result check and the conversion to a Struct. Permission and
    arguments are checked on every call.
    """

    def __init__(
        self, registry: Registry, policy: LimitPolicy | None = None, *, memo_entries: int = 128
    ) -> None:
        self.registry = registry
        self.policy = policy or LimitPolicy()
        self.memo_entries = memo_entries
        self._slots: dict[str, _Slots] = {}
        self._memos: dict[str, ReadCache] = {}

    def limits(self, name: str) -> Limits:
        """The limits in force for a registered tool."""
        tool = self.registry.get(name)
        if tool is None:
            raise ToolNotFound(name)
        return self.policy.for_tool(tool)

    def in_flight(self, name: str) -> int:
        """How many calls of a tool are running now."""
        s = self._slots.get(name)
        return s.in_use if s else 0

    async def invoke(
        self, name: str, arguments: JSONObject, ctx: ToolContext, *, deadline_s: float | None = None
    ) -> Invocation:
        """Run one tool call; `deadline_s` is the caller's remaining time, if it set one."""
        tool = self.registry.get(name)
        if tool is None:
            raise ToolNotFound(name)
        if not ctx.agent_type:
            raise InvalidArgument("agent_type", "is required to invoke a tool")
        if not tool.definition.allows(ctx.agent_type):
            raise ToolNotPermitted(name, ctx.agent_type.upper())
        # Who calls decides, not which agent type it claims: the role must allow acting as that
        # agent type (as Execute would) and hold the tool's own permission.
        missing = may_run(ctx.role, ctx.agent_type) or (
            None if granted(ctx.role, tool.definition.permission) else tool.definition.permission
        )
        if missing is not None:
            raise PermissionDenied(
                f"{ctx.actor or 'caller'} (role {ctx.role or 'none'}) lacks {missing!r} "
                f"to run {name} as {ctx.agent_type}"
            )
        if tool.definition.side_effects and not ctx.idempotency_key:
            raise InvalidArgument("idempotency_key", f"is required: {name} has side effects")
        violations = tool.arguments_check.violations(arguments)
        if violations:
            raise ArgumentsInvalid(name, violations)
        if tool.memo is not None and self.memo_entries > 0:
            return await self._memoised(tool, arguments, ctx, deadline_s)
        return await self._run(tool, arguments, ctx, deadline_s)

    async def _memoised(
        self, tool: Tool, arguments: JSONObject, ctx: ToolContext, deadline_s: float | None
    ) -> Invocation:
        assert tool.memo is not None
        cache = self._memos.get(tool.name)
        if cache is None:
            cache = self._memos[tool.name] = ReadCache(tool.memo.version, max_entries=self.memo_entries)
        key = json.dumps(arguments, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        ran = False

        async def compute() -> Invocation:
            nonlocal ran
            ran = True
            out = await self._run(tool, arguments, ctx, deadline_s)
            return Invocation(out.result, out.duration_us, dict_to_struct(out.result))

        started = time.perf_counter()
        answer = await cache.get(key, compute, max_age_s=tool.memo.max_age_s)
        if ran:  # this call ran the tool
            return answer
        lookup_us = int((time.perf_counter() - started) * 1_000_000)
        return Invocation(answer.result, lookup_us, answer.result_struct, memoised=True)

    async def _run(
        self, tool: Tool, arguments: JSONObject, ctx: ToolContext, deadline_s: float | None
    ) -> Invocation:
        name = tool.name
        limits = self.policy.for_tool(tool)
        slots = self._slots.setdefault(name, _Slots(limits.max_concurrency))
        if not slots.try_acquire():
            raise ToolBusy(f"tool {name} is running its maximum of {slots.limit} calls; retry later")
        timeout = limits.timeout_s if deadline_s is None else min(limits.timeout_s, deadline_s)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout):
                result = await tool.execute(arguments, ctx)
        except TimeoutError as e:
            raise ToolTimedOut(f"tool {name} did not finish within {timeout:.3g}s") from e
        except LabsError:
            raise
        except Exception as e:
            log.exception("tool %s failed", name)
            raise ToolFailed(f"tool {name} failed: {type(e).__name__}: {e}") from e
        finally:
            slots.release()
        duration_us = int((time.perf_counter() - started) * 1_000_000)

        bad = tool.result_check.violations(result)
        if bad:
            listed = "; ".join(f"{v.field}: {v.reason}" for v in bad)
            log.error("tool %s returned an invalid result: %s", name, listed)
            raise ToolFailed(f"tool {name} returned an invalid result: {listed}")
        return Invocation(result=result, duration_us=min(duration_us, 2**32 - 1))
