"""Runs one attempt of an execution through the agent's lifecycle and records its outcome."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from dataclasses import dataclass, field
from typing import Any

from labs.events.v1 import execution_pb2

from labs_core import auth, tracing
from labs_core.auth import Identity
from labs_core.errors import ConcurrencyConflict
from labs_core.eventlog import EventLog, StoredEvent
from labs_core.structs import dict_to_struct
from services.runtime.adapters.llm_client import LlmClient
from services.runtime.adapters.tools_client import ToolsClient
from services.runtime.domain import errors as E
from services.runtime.domain.agent import AgentRuntime, ExecutionInfo
from services.runtime.domain.calls import MemoryReader
from services.runtime.domain.registry import AgentRegistry
from services.runtime.domain.state import ExecutionState, category_value, fold
from services.runtime.worker.calls import RecordedCalls
from services.runtime.worker.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass
class Decision:
    """What the consumer does with the message after an attempt."""

    ack: bool = True
    # When not acked: redeliver after this many seconds.
    redeliver_after_s: float = 0.0
    status: str = ""


@dataclass
class Phases:
    """Microseconds spent in each lifecycle phase."""

    us: dict[str, int] = field(default_factory=dict)

    def message(self) -> execution_pb2.PhaseTimings:
        return execution_pb2.PhaseTimings(
            initialize_us=self.us.get("initialize", 0),
            preprocess_us=self.us.get("preprocess", 0),
            execute_us=self.us.get("execute", 0),
            postprocess_us=self.us.get("postprocess", 0),
            shutdown_us=self.us.get("shutdown", 0),
        )


class CancelledByRequest(Exception):
    """The execution was cancelled while this worker ran it."""


class Runner:
    """Decides and records: start, run the agent under its deadline, complete/fail/retry/cancel."""

    def __init__(
        self,
        log: EventLog,
        agents: AgentRegistry,
        tools: ToolsClient,
        llm: LlmClient,
        *,
        worker_id: str,
        rng: random.Random | None = None,
        memory: MemoryReader | None = None,
    ) -> None:
        self.log = log
        self.agents = agents
        self.tools = tools
        self.llm = llm
        self.worker_id = worker_id
        self.rng = rng or random.Random()
        self.memory = memory
        #: execution id -> cancel flag of the attempt running here.
        self.cancel_flags: dict[str, asyncio.Event] = {}

    async def load(
        self, execution_id: str, requested: StoredEvent | None, first_delivery: bool
    ) -> ExecutionState:
        """The execution's state: from the delivered event alone on first delivery, else from the log."""
        if first_delivery and requested is not None:
            return fold(execution_id, [requested])
        return fold(execution_id, await self.log.read_aggregate("execution", execution_id))

    async def handle(
        self, execution_id: str, requested: StoredEvent | None, first_delivery: bool
    ) -> Decision:
        """Run the execution's next attempt (or finish it if there is nothing left to run)."""
        state = await self.load(execution_id, requested, first_delivery)
        rec = Recorder(self.log, state, actor=f"worker:{self.worker_id}", traceparent=_traceparent(requested))
        # The attempt continues the trace of the request, carried across NATS in the event, and
        # calls tools and models as whoever requested it, with that caller's role (never more).
        with (
            tracing.continue_from(
                rec.traceparent, f"execute {state.agent_type}.{state.action}", execution_id=execution_id
            ),
            auth.acting_as(Identity(state.actor, state.role) if state.role else None),
        ):
            for _ in range(5):  # a conflict means somebody else wrote: re-read and decide again
                try:
                    return await self._decide_and_run(rec)
                except ConcurrencyConflict:
                    await rec.refresh()
        raise RuntimeError(f"execution {execution_id}: too many concurrent writes")

    async def _decide_and_run(self, rec: Recorder) -> Decision:
        state = rec.state
        if state.terminal:
            return Decision(ack=True, status=state.status)
        if state.cancel_requested or (state.status != "RUNNING" and self._cancel_pending(state.execution_id)):
            await rec.append(
                "cancelled",
                execution_cancelled=execution_pb2.ExecutionCancelled(
                    reason=state.cancel_reason, attempt=state.attempt
                ),
            )
            return Decision(ack=True, status="CANCELLED")
        agent_cls = self.agents.get(state.agent_type)
        if agent_cls is None:
            await rec.append(
                "failed",
                execution_failed=execution_pb2.ExecutionFailed(
                    category=category_value(E.VALIDATION),
                    message=f"no agent of type {state.agent_type} here",
                    attempt=state.attempt,
                ),
            )
            return Decision(ack=True, status="FAILED")
        definition = agent_cls.definition
        if state.attempt_open:
            # The previous attempt's worker vanished without a word.
            await self._attempt_failed(
                rec, state.attempt, E.WORKER_LOST, "worker lost", definition.retry, Phases(), retry_now=True
            )
        attempt = state.attempt + 1
        if attempt > definition.retry.max_attempts:
            await rec.append(
                "failed",
                execution_failed=execution_pb2.ExecutionFailed(
                    category=category_value(E.WORKER_LOST), message="no attempts left", attempt=state.attempt
                ),
            )
            return Decision(ack=True, status="FAILED")
        await rec.append(
            f"{attempt}:started",
            execution_started=execution_pb2.ExecutionStarted(attempt=attempt, worker_id=self.worker_id),
        )
        return await self._attempt(rec, agent_cls, attempt)

    def _cancel_pending(self, execution_id: str) -> bool:
        flag = self.cancel_flags.get(execution_id)
        return flag is not None and flag.is_set()

    async def _attempt(self, rec: Recorder, agent_cls: type[AgentRuntime], attempt: int) -> Decision:
        state = rec.state
        definition = agent_cls.definition
        timeout_ms = state.timeout_ms or definition.timeout_ms
        deadline = time.monotonic() + timeout_ms / 1000
        calls = RecordedCalls(
            rec, definition, self.tools, self.llm, attempt=attempt, deadline=deadline, memory=self.memory
        )
        info = ExecutionInfo(state.execution_id, state.agent_type, state.action, attempt, actor=state.actor)
        agent = agent_cls(calls, info)
        phases = Phases()
        flag = self.cancel_flags.setdefault(state.execution_id, asyncio.Event())
        try:
            output = await self._lifecycle(agent, info, dict(state.input), phases, timeout_ms, flag)
        except CancelledByRequest:
            await rec.append(
                "cancelled",
                execution_cancelled=execution_pb2.ExecutionCancelled(
                    reason=state.cancel_reason or "cancelled", attempt=attempt
                ),
            )
            return Decision(ack=True, status="CANCELLED")
        except TimeoutError:
            if definition.retry.retry_timeouts and attempt < definition.retry.max_attempts:
                return await self._attempt_failed(
                    rec, attempt, E.TIMEOUT, f"attempt ran past {timeout_ms} ms", definition.retry, phases
                )
            await rec.append(
                "timed_out",
                execution_timed_out=execution_pb2.ExecutionTimedOut(attempt=attempt, timeout_ms=timeout_ms),
            )
            return Decision(ack=True, status="TIMED_OUT")
        except E.AgentError as e:
            if e.category == E.BUDGET:
                await rec.append(
                    "failed",
                    execution_failed=execution_pb2.ExecutionFailed(
                        category=category_value(E.BUDGET),
                        message=str(e),
                        attempt=attempt,
                        phases=phases.message(),
                    ),
                )
                return Decision(ack=True, status="BUDGET_EXCEEDED")
            if e.retryable and attempt < definition.retry.max_attempts:
                return await self._attempt_failed(rec, attempt, e.category, str(e), definition.retry, phases)
            await rec.append(
                "failed",
                execution_failed=execution_pb2.ExecutionFailed(
                    category=category_value(e.category),
                    message=str(e),
                    attempt=attempt,
                    phases=phases.message(),
                ),
            )
            return Decision(ack=True, status="FAILED")
        except ConcurrencyConflict:
            raise
        except Exception as e:
            log.exception("agent %s crashed in execution %s", state.agent_type, state.execution_id)
            await rec.append(
                "failed",
                execution_failed=execution_pb2.ExecutionFailed(
                    category=category_value(E.INTERNAL),
                    message=f"{type(e).__name__}: {e}",
                    attempt=attempt,
                    phases=phases.message(),
                ),
            )
            return Decision(ack=True, status="FAILED")
        finally:
            self.cancel_flags.pop(state.execution_id, None)
        done = execution_pb2.ExecutionCompleted(attempt=attempt, phases=phases.message())
        dict_to_struct(output, done.output)
        await rec.append("completed", execution_completed=done)
        return Decision(ack=True, status="COMPLETED")

    async def _attempt_failed(
        self,
        rec: Recorder,
        attempt: int,
        category: str,
        message: str,
        policy: Any,
        phases: Phases,
        *,
        retry_now: bool = False,
    ) -> Decision:
        delay_ms = 0 if retry_now else policy.delay_ms(attempt, self.rng.random())
        await rec.append(
            f"{attempt}:attempt_failed",
            attempt_failed=execution_pb2.AttemptFailed(
                attempt=attempt,
                category=category_value(category),
                message=message,
                retry_delay_ms=delay_ms,
                will_retry=True,
                phases=phases.message(),
            ),
        )
        return Decision(ack=False, redeliver_after_s=delay_ms / 1000, status="RETRYING")

    async def _lifecycle(
        self,
        agent: AgentRuntime,
        info: ExecutionInfo,
        input: dict[str, Any],
        phases: Phases,
        timeout_ms: int,
        cancel: asyncio.Event,
    ) -> dict[str, Any]:
        """The hooks in order, under the deadline, interrupted at once by a cancellation."""
        work = asyncio.ensure_future(self._hooks(agent, info, input, phases))
        cancel_wait = asyncio.ensure_future(cancel.wait())
        try:
            done, _ = await asyncio.wait(
                {work, cancel_wait}, timeout=timeout_ms / 1000, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            cancel_wait.cancel()
        if work in done:
            return work.result()
        work.cancel()
        # The work is being abandoned: whatever it raises while unwinding does not matter.
        with contextlib.suppress(BaseException):
            await work
        if cancel.is_set():
            raise CancelledByRequest()
        raise TimeoutError()

    async def _hooks(
        self, agent: AgentRuntime, info: ExecutionInfo, input: dict[str, Any], phases: Phases
    ) -> Any:
        async def timed(name: str, coro: Any) -> Any:
            t = time.perf_counter_ns()
            try:
                return await coro
            finally:
                phases.us[name] = (time.perf_counter_ns() - t) // 1000

        await timed("initialize", agent.on_initialize())
        try:
            data = await timed("preprocess", agent.on_preprocess(input))
            result = await timed("execute", agent.on_execute(data, info))
            result = await timed("postprocess", agent.on_postprocess(result, info))
            await agent.on_success(result, info)
            return result
        except BaseException as e:
            if isinstance(e, Exception):
                await agent.on_error(e, info)
            raise
        finally:
            await timed("shutdown", agent.on_shutdown())


def _traceparent(requested: StoredEvent | None) -> str:
    return requested.event.traceparent if requested is not None else ""
