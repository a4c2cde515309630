"""The agent's calls inside a worker: recorded as events, replayed from history on resume."""

from __future__ import annotations

import time
from typing import Any

from google.protobuf import struct_pb2
from labs.events.v1 import execution_pb2

from labs_core.structs import dict_to_struct, py_to_value, struct_to_dict
from services.runtime.adapters.llm_client import LlmClient
from services.runtime.adapters.tools_client import ToolsClient
from services.runtime.domain.agent import AgentDefinition
from services.runtime.domain.calls import AiAnswer, ChatMessage, MemoryReader, ToolRequest, ToolSpec
from services.runtime.domain.errors import BUDGET, AgentError, InputInvalid, NotAllowed
from services.runtime.worker.recorder import Recorder


class BudgetExceeded(AgentError):
    """A model call passed the execution's token or cost budget."""

    category = BUDGET


class RecordedCalls:
    """AgentCalls for one attempt. Steps are numbered in call order; a step already recorded
    with an OK outcome is answered from the history (no second side effect, no second token)."""

    def __init__(
        self,
        recorder: Recorder,
        definition: AgentDefinition,
        tools: ToolsClient,
        llm: LlmClient,
        *,
        attempt: int,
        deadline: float,
        memory: MemoryReader | None = None,
    ) -> None:
        self.rec = recorder
        self.definition = definition
        self.tools = tools
        self.llm = llm
        self.attempt = attempt
        self.deadline = deadline
        self.step = 0
        self.memory = memory
        # What this execution remembered: visible to its own recalls at once.
        self._written: dict[str, Any] = {}

    def _time_left(self) -> float:
        return max(0.001, self.deadline - time.monotonic())

    async def call_tool(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        """Invoke a tool (or replay its recorded result)."""
        self.step += 1
        step = self.step
        state = self.rec.state
        if name not in self.definition.allowed_tools:
            raise NotAllowed(f"agent {self.definition.type} may not use tool {name!r}")
        recorded = state.tool_calls.get(step)
        if recorded is not None and recorded.tool == name:
            return struct_to_dict(recorded.result)
        key = f"{state.execution_id}:{step}"
        started = time.perf_counter_ns()
        arguments = dict_to_struct(args)  # built once: sent to the tool and recorded
        try:
            result, result_struct = await self.tools.invoke_struct(
                name,
                arguments,
                agent_type=self.definition.type,
                execution_id=state.execution_id,
                idempotency_key=key,
                timeout=self._time_left(),
            )
        except AgentError as e:
            await self._record_tool(step, name, arguments, None, started, str(e))
            raise
        await self._record_tool(step, name, arguments, result_struct, started, "")
        return result

    async def _record_tool(
        self,
        step: int,
        name: str,
        arguments: struct_pb2.Struct,
        result: struct_pb2.Struct | None,
        started: int,
        error: str,
    ) -> None:
        # The idempotency key the tool got is `<execution>:<step>`: derivable, so not stored.
        t = execution_pb2.ToolCallCompleted(
            step=step,
            tool=name,
            attempt=self.attempt,
            duration_us=(time.perf_counter_ns() - started) // 1000,
            outcome=execution_pb2.CALL_OUTCOME_ERROR if error else execution_pb2.CALL_OUTCOME_OK,
            error_message=error,
            arguments=arguments,
            result=result,
        )
        self.rec.record(f"{self.attempt}:tool:{step}", tool_call_completed=t)

    async def call_ai(
        self,
        prompt: str,
        *,
        system: str,
        model: str,
        temperature: float | None,
        max_output_tokens: int,
        json_mode: bool,
        messages: tuple[ChatMessage, ...] = (),
        tools: tuple[ToolSpec, ...] = (),
    ) -> AiAnswer:
        """Ask a model (or replay its recorded answer); enforces the execution's budgets."""
        self.step += 1
        step = self.step
        state = self.rec.state
        recorded = state.model_calls.get(step)
        if recorded is not None:
            return AiAnswer(
                recorded.text,
                recorded.provider,
                recorded.model,
                recorded.tokens_in,
                recorded.tokens_out,
                recorded.cost_usd,
                tuple(ToolRequest(i, n, a) for i, n, a in recorded.tool_calls),
            )
        self._check_budget()
        started = time.perf_counter_ns()
        try:
            ans = await self.llm.generate(
                prompt,
                system=system,
                model=model,
                temperature=temperature,
                max_output_tokens=max_output_tokens,
                json_mode=json_mode,
                execution_id=state.execution_id,
                timeout=self._time_left(),
                messages=messages,
                tools=tools,
            )
        except AgentError as e:
            m = execution_pb2.ModelCallCompleted(
                step=step,
                model=model,
                attempt=self.attempt,
                outcome=execution_pb2.CALL_OUTCOME_ERROR,
                duration_us=(time.perf_counter_ns() - started) // 1000,
                error_message=str(e),
            )
            self.rec.record(f"{self.attempt}:model:{step}", model_call_completed=m)
            raise
        m = execution_pb2.ModelCallCompleted(
            step=step,
            provider=ans.provider,
            model=ans.model,
            tokens_in=ans.tokens_in,
            tokens_out=ans.tokens_out,
            cost_usd=ans.cost_usd,
            duration_us=(time.perf_counter_ns() - started) // 1000,
            outcome=execution_pb2.CALL_OUTCOME_OK,
            text=ans.text,
            attempt=self.attempt,
        )
        for tc in ans.tool_calls:
            dict_to_struct(tc.arguments, m.tool_calls.add(id=tc.id, name=tc.name).arguments)
        self.rec.record(f"{self.attempt}:model:{step}", model_call_completed=m)
        self._check_budget()
        return ans

    def _check_budget(self) -> None:
        s = self.rec.state
        if s.max_tokens and s.tokens >= s.max_tokens:
            raise BudgetExceeded(f"token budget of {s.max_tokens} reached ({s.tokens} spent)")
        if s.max_cost_usd and s.cost_usd >= s.max_cost_usd:
            raise BudgetExceeded(f"cost budget of ${s.max_cost_usd:.4f} reached (${s.cost_usd:.4f} spent)")

    async def update_metric(self, name: str, delta: float) -> None:
        """Record a change of one of the agent's counters."""
        self.step += 1
        if self.step in self.rec.state.metric_steps:
            return
        self.rec.record(
            f"{self.attempt}:metric:{self.step}",
            metric_updated=execution_pb2.MetricUpdated(
                name=name, delta=delta, step=self.step, attempt=self.attempt
            ),
        )

    async def describe_tools(self) -> tuple[ToolSpec, ...]:
        """The agent's allowed tools with their schemas, as the tools service describes them."""
        return await self.tools.describe(
            self.definition.type, self.definition.allowed_tools, timeout=min(5.0, self._time_left())
        )

    async def remember(self, key: str, value: Any) -> None:
        """Record a memory write as an event of the execution (replayed, not repeated, on resume)."""
        if not key or len(key) > 200:
            raise InputInvalid("memory key must be 1-200 characters", field="memory.key")
        self.step += 1
        self._written[key] = value
        if self.step in self.rec.state.memory_steps:
            return
        ev = execution_pb2.MemoryWritten(key=key, step=self.step, attempt=self.attempt)
        try:
            ev.value.CopyFrom(py_to_value(value))
        except (TypeError, ValueError) as e:
            raise InputInvalid(f"memory value for {key!r} is not JSON: {e}", field="memory.value") from e
        self.rec.record(f"{self.attempt}:memory:{self.step}", memory_written=ev)

    async def recall(self, key: str, default: Any = None) -> Any:
        """This execution's own write, else the agent type's memory from the read model."""
        if key in self._written:
            return self._written[key]
        if self.memory is None:
            return default
        found, value = await self.memory.read(self.definition.type, key)
        return value if found else default
