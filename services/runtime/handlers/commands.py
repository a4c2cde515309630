"""Write-side handlers: submit an execution, cancel one, register the agent definitions."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import jsonschema
from labs.events.v1 import agent_pb2, execution_pb2

from labs_core.auth import may_run
from labs_core.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from labs_core.eventlog import EventLog, new_event
from labs_core.ids import derived_id, is_canonical_agent_type, require_issued_id, uuid7
from labs_core.structs import dict_to_struct
from services.runtime.domain.agent import AgentDefinition
from services.runtime.domain.registry import AgentRegistry
from services.runtime.domain.state import CANCELLED, QUEUED, RETRYING, fold

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExecuteCommand:
    """Run `action` of agent `agent_type` on `input`."""

    agent_type: str
    action: str
    input: dict[str, Any]
    request_id: str = ""
    timeout_ms: int = 0
    max_tokens: int = 0
    max_cost_usd: float = 0.0
    actor: str = ""
    traceparent: str = ""
    #: The caller's authenticated role: it must allow running `agent_type`, and the execution
    #: runs with it (its tool and model calls carry it).
    role: str = ""


@dataclass(frozen=True)
class Accepted:
    """The execution the command created (or had created before, for a repeated request id)."""

    execution_id: str
    task_id: str
    status: str
    sequence: int


@dataclass(frozen=True)
class CancelCommand:
    """Stop an execution. `role` is the caller's authenticated role: it must allow running the
    execution's agent type (so an ADMIN execution is cancelled only by whom may start one)."""

    execution_id: str
    reason: str = ""
    actor: str = ""
    role: str = ""


@dataclass(frozen=True)
class CancelOutcome:
    """What a cancel request did."""

    execution_id: str
    status: str
    cancellation_requested: bool


_VALIDATORS: dict[int, jsonschema.Draft202012Validator] = {}


def _validator(schema: Any) -> jsonschema.Draft202012Validator:
    """The compiled validator of an action's input schema (schemas live as long as the process)."""
    v = _VALIDATORS.get(id(schema))
    if v is None:
        v = _VALIDATORS[id(schema)] = jsonschema.Draft202012Validator(schema)
    return v


def validate(cmd: ExecuteCommand, agents: AgentRegistry) -> AgentDefinition:
    """The agent definition, after checking the command against it; InvalidArgument names the field."""
    if not cmd.agent_type:
        raise InvalidArgument("type", f"required; one of {', '.join(agents.types())}")
    if not is_canonical_agent_type(cmd.agent_type):
        # Never folded here: a layer that trimmed or upper-cased would read " ADMIN" as ADMIN
        # while another layer's permission rule read it as something else.
        raise InvalidArgument(
            "type",
            f"{cmd.agent_type[:80]!r} is not an agent type as registered (upper-case ASCII letters, "
            f"digits and '_', nothing around them); known: {', '.join(agents.types())}",
        )
    cls = agents.get(cmd.agent_type)
    if cls is None:
        raise InvalidArgument(
            "type", f"unknown agent type {cmd.agent_type!r}; known: {', '.join(agents.types())}"
        )
    d = cls.definition
    if not cmd.action:
        raise InvalidArgument(
            "action", f"required; {d.type} actions: {', '.join(a.name for a in d.all_actions())}"
        )
    spec = d.action(cmd.action)
    if spec is None:
        raise InvalidArgument(
            "action",
            f"{d.type} has no action {cmd.action!r}; its actions: {', '.join(a.name for a in d.all_actions())}",
        )
    validator = _validator(spec.input_schema)
    errs = sorted(validator.iter_errors(cmd.input), key=lambda e: list(e.absolute_path))
    if errs:
        violations = [("input" + "".join(f".{p}" for p in e.absolute_path), e.message) for e in errs]
        raise InvalidArgument(violations[0][0], violations[0][1], violations)
    if cmd.timeout_ms and cmd.timeout_ms > d.max_timeout_ms:
        raise InvalidArgument("timeout_ms", f"at most {d.max_timeout_ms} for {d.type}")
    if cmd.max_tokens < 0 or cmd.max_cost_usd < 0:
        raise InvalidArgument("max_tokens" if cmd.max_tokens < 0 else "max_cost_usd", "must not be negative")
    return d


class Commands:
    """The write side of the runtime's API."""

    def __init__(self, log_: EventLog, agents: AgentRegistry) -> None:
        self.log = log_
        self.agents = agents

    async def execute(self, cmd: ExecuteCommand) -> Accepted:
        """Validate and append ExecutionRequested; idempotent per (actor, request id)."""
        validate(cmd, self.agents)
        missing = may_run(cmd.role, cmd.agent_type)
        if missing is not None:
            raise PermissionDenied(
                f"{cmd.actor or 'caller'} (role {cmd.role or 'none'}) lacks {missing!r} to run {cmd.agent_type}"
            )
        if cmd.request_id:
            execution_id = derived_id("execution", cmd.actor, cmd.request_id)
            task_id = derived_id("task", cmd.actor, cmd.request_id)
        else:
            execution_id, task_id = uuid7(), uuid7()
        payload = execution_pb2.ExecutionRequested(
            agent_type=cmd.agent_type,
            action=cmd.action,
            request_id=cmd.request_id,
            task_id=task_id,
            timeout_ms=cmd.timeout_ms,
            max_tokens=cmd.max_tokens,
            max_cost_usd=cmd.max_cost_usd,
        )
        dict_to_struct(cmd.input, payload.input)
        ev = new_event(
            "execution",
            execution_id,
            actor=cmd.actor,
            actor_role=cmd.role,
            traceparent=cmd.traceparent,
            execution_requested=payload,
        )
        try:
            r = await self.log.append(ev, msg_id=f"{execution_id}:requested", expected_sequence=0)
        except ConcurrencyConflict:
            return await self._same_request(execution_id, payload)
        if r.duplicate:
            return await self._same_request(execution_id, payload)
        return Accepted(execution_id, task_id, QUEUED, r.sequence)

    async def _same_request(self, execution_id: str, payload: execution_pb2.ExecutionRequested) -> Accepted:
        events = await self.log.read_aggregate("execution", execution_id)
        if not events:
            raise NotFound(f"execution {execution_id}")
        first = events[0].event.execution_requested
        if (
            first.agent_type,
            first.action,
            first.input,
            first.timeout_ms,
            first.max_tokens,
            first.max_cost_usd,
        ) != (
            payload.agent_type,
            payload.action,
            payload.input,
            payload.timeout_ms,
            payload.max_tokens,
            payload.max_cost_usd,
        ):
            raise AlreadyExists(f"request_id {payload.request_id!r} was already used for a different request")
        state = fold(execution_id, events)
        return Accepted(execution_id, first.task_id, state.status, events[0].sequence)

    async def cancel(self, cmd: CancelCommand) -> CancelOutcome:
        """Cancel: a queued (or retry-waiting) execution ends at once; a running one is told to stop."""
        require_issued_id("execution_id", cmd.execution_id)
        for _ in range(5):
            events = await self.log.read_aggregate("execution", cmd.execution_id)
            if not events:
                raise NotFound(f"execution {cmd.execution_id} not found")
            state = fold(cmd.execution_id, events)
            missing = may_run(cmd.role, state.agent_type)
            if missing is not None:
                raise PermissionDenied(
                    f"cancelling a {state.agent_type} execution needs {missing!r} "
                    f"(role {cmd.role or 'none'} lacks it)"
                )
            if state.terminal:
                raise FailedPrecondition(f"execution {cmd.execution_id} already finished: {state.status}")
            try:
                if state.status in (QUEUED, RETRYING):
                    await self.log.append(
                        new_event(
                            "execution",
                            cmd.execution_id,
                            actor=cmd.actor,
                            actor_role=cmd.role,
                            execution_cancelled=execution_pb2.ExecutionCancelled(
                                reason=cmd.reason, attempt=state.attempt
                            ),
                        ),
                        msg_id=f"{cmd.execution_id}:cancelled",
                        expected_sequence=state.last_sequence,
                    )
                    return CancelOutcome(cmd.execution_id, CANCELLED, True)
                if not state.cancel_requested:
                    await self.log.append(
                        new_event(
                            "execution",
                            cmd.execution_id,
                            actor=cmd.actor,
                            actor_role=cmd.role,
                            cancellation_requested=execution_pb2.CancellationRequested(reason=cmd.reason),
                        ),
                        msg_id=f"{cmd.execution_id}:cancel_requested",
                        expected_sequence=state.last_sequence,
                    )
                return CancelOutcome(cmd.execution_id, state.status, True)
            except ConcurrencyConflict:
                continue
        raise FailedPrecondition(f"execution {cmd.execution_id} is changing too fast to cancel; try again")

    async def register_agents(self) -> list[tuple[str, int, bool]]:
        """Record each agent definition as AgentRegistered; a changed definition gets version + 1."""
        out: list[tuple[str, int, bool]] = []
        for d in self.agents.definitions():
            h = d.definition_hash()
            last = await self.log.last_on_subject(f"{self.log.prefix}.agent.{d.type}.registered")
            if last is not None and last.event.agent_registered.definition_hash == h:
                out.append((d.type, last.event.agent_registered.version, False))
                continue
            version = (last.event.agent_registered.version + 1) if last else 1
            payload = agent_pb2.AgentRegistered(
                agent_type=d.type,
                version=version,
                description=d.description,
                actions=[a.name for a in d.all_actions()],
                allowed_tools=list(d.allowed_tools),
                timeout_ms=d.timeout_ms,
                max_timeout_ms=d.max_timeout_ms,
                definition_hash=h,
                retry=agent_pb2.RetryPolicy(
                    max_attempts=d.retry.max_attempts,
                    initial_delay_ms=d.retry.initial_delay_ms,
                    max_delay_ms=d.retry.max_delay_ms,
                    jitter=d.retry.jitter,
                ),
            )
            try:
                await self.log.append(
                    new_event("agent", d.type, actor="system", agent_registered=payload),
                    msg_id=f"agent:{d.type}:{h}",
                    expected_sequence=last.sequence if last else 0,
                )
                out.append((d.type, version, True))
            except ConcurrencyConflict:
                log.info("agent %s registered concurrently by another runtime", d.type)
                out.append((d.type, version, False))
        return out
