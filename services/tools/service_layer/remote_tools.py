"""Tools served by other gRPC endpoints: registered at run time, invoked over the network, retired
when their endpoint fails its health checks.

Registrations are events (ToolRegistered, ToolRetired on the `tool` aggregate); the read model
`remote_tools` lets every replica (and a restarted one) load them. A monitor loop syncs the
registry with the read model and health-checks each endpoint every `interval_s`; after
`failures` failed checks in a row the tool is retired.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from labs.events.v1 import tool_registry_pb2
from labs.tools.v1 import tool_service_pb2, tool_service_pb2_grpc

from labs_core import grpcutil
from labs_core.errors import (
    AlreadyExists,
    ConcurrencyConflict,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    Unavailable,
)
from labs_core.eventlog import EventLog, new_event
from labs_core.ids import derived_id
from labs_core.projector import Projector
from labs_core.structs import dict_to_struct, struct_to_dict
from services.tools.domain.errors import ProjectionLagging, ToolFailed, ToolsError
from services.tools.domain.registry import JSONObject, Registry, ToolContext, ToolDefinition, ToolFunction

log = logging.getLogger(__name__)
AGGREGATE = "tool"


class RemoteToolUnavailable(ToolsError, Unavailable):
    """The endpoint serving a remote tool could not be reached (UNAVAILABLE, retryable)."""

    retryable = True


def definition_json(d: ToolDefinition) -> dict[str, Any]:
    """A definition as the read model stores it."""
    return {
        "name": d.name,
        "version": d.version,
        "description": d.description,
        "category": d.category,
        "parameters": d.parameters,
        "result": d.result,
        "side_effects": d.side_effects,
        "extra_agent_types": sorted(d.extra_agent_types),
        "timeout_s": d.timeout_s,
        "max_concurrency": d.max_concurrency,
    }


def definition_from_json(j: dict[str, Any]) -> ToolDefinition:
    """The stored form back as a definition."""
    return ToolDefinition(
        name=j["name"],
        version=j["version"],
        description=j["description"],
        category=j["category"],
        parameters=j["parameters"],
        result=j["result"],
        side_effects=bool(j.get("side_effects")),
        extra_agent_types=frozenset(j.get("extra_agent_types") or ()),
        timeout_s=j.get("timeout_s") or None,
        max_concurrency=int(j["max_concurrency"]) if j.get("max_concurrency") else None,
    )


class RemoteEndpoint:
    """A channel to one endpoint: invokes its tool and checks its health."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.channel = grpcutil.channel(address)
        self.tools = tool_service_pb2_grpc.ToolServiceStub(self.channel)
        self.health = health_pb2_grpc.HealthStub(self.channel)

    async def healthy(self, timeout_s: float) -> tuple[bool, str]:
        """Whether the endpoint answers SERVING to a gRPC health check, and why not."""
        try:
            r = await self.health.Check(health_pb2.HealthCheckRequest(service=""), timeout=timeout_s)
        except grpc.aio.AioRpcError as e:
            return False, f"health check failed: {e.code().name}: {e.details()}"
        if r.status != health_pb2.HealthCheckResponse.SERVING:
            return (
                False,
                f"health check answered {health_pb2.HealthCheckResponse.ServingStatus.Name(r.status)}",
            )
        return True, ""

    def function(self, name: str) -> ToolFunction:
        """The tool function that calls InvokeTool on this endpoint (cancellation propagates)."""

        async def invoke(args: JSONObject, ctx: ToolContext) -> JSONObject:
            req = tool_service_pb2.InvokeToolRequest(
                name=name,
                agent_type=ctx.agent_type,
                execution_id=ctx.execution_id,
                idempotency_key=ctx.idempotency_key,
            )
            dict_to_struct(args, req.arguments)
            try:
                resp = await self.tools.InvokeTool(req)
            except grpc.aio.AioRpcError as e:
                code, details = e.code(), e.details() or ""
                if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise RemoteToolUnavailable(
                        f"tool {name} at {self.address}: {code.name}: {details}"
                    ) from e
                if code == grpc.StatusCode.INVALID_ARGUMENT:
                    raise InvalidArgument("arguments", details) from e
                if code == grpc.StatusCode.PERMISSION_DENIED:
                    raise PermissionDenied(details) from e
                raise ToolFailed(f"tool {name} at {self.address}: {code.name}: {details}") from e
            return struct_to_dict(resp.result)

        return invoke

    async def close(self) -> None:
        """Close the channel."""
        with contextlib.suppress(Exception):
            await self.channel.close()


class RemoteTools:
    """Registers, loads, monitors and retires the tools served by other endpoints."""

    def __init__(
        self,
        eventlog: EventLog,
        pool: Any,
        projector: Projector,
        registry: Registry,
        *,
        interval_s: float = 5.0,
        failures: int = 2,
        check_timeout_s: float = 2.0,
        read_wait_s: float = 5.0,
        actor: str = "tools",
        on_change: Callable[[str], None] | None = None,
    ) -> None:
        self.log = eventlog
        self.pool = pool
        self.projector = projector
        self.registry = registry
        self.interval_s = interval_s
        self.failures = failures
        self.check_timeout_s = check_timeout_s
        self.read_wait_s = read_wait_s
        self.actor = actor
        self.on_change = on_change
        #: name -> (endpoint, registration's stream sequence)
        self._remote: dict[str, tuple[RemoteEndpoint, int]] = {}
        self._failed: dict[str, int] = {}
        self._stopped = False

    def is_remote(self, name: str) -> bool:
        """Whether a tool of the registry is served by another endpoint."""
        return name in self._remote

    async def register(self, d: ToolDefinition, address: str) -> tuple[ToolDefinition, bool]:
        """Record ToolRegistered (unless the same registration is in force) and serve the tool."""
        if not address or ":" not in address:
            raise InvalidArgument("address", "must be host:port of a gRPC endpoint")
        existing = self.registry.get(d.name)
        if existing is not None and d.name not in self._remote:
            raise AlreadyExists(f"tool {d.name} is served by this service and cannot be replaced")
        endpoint = RemoteEndpoint(address)
        ok, why = await endpoint.healthy(self.check_timeout_s)
        if not ok:
            await endpoint.close()
            raise FailedPrecondition(f"endpoint {address} is not serving: {why}")
        await endpoint.close()
        for _ in range(3):
            history = await self.log.read_aggregate(AGGREGATE, d.name)
            last = history[-1] if history else None
            if (
                last is not None
                and last.event.WhichOneof("payload") == "tool_registered"
                and last.event.tool_registered.address == address
                and definition_json(self._from_event(last.event.tool_registered)) == definition_json(d)
            ):
                await self._visible(last.sequence)
                await self.sync()
                return d, False
            payload = tool_registry_pb2.ToolRegistered(
                name=d.name,
                version=d.version,
                description=d.description,
                category=d.category,
                side_effects=d.side_effects,
                extra_agent_types=sorted(d.extra_agent_types),
                address=address,
                timeout_s=d.timeout_s or 0.0,
                max_concurrency=d.max_concurrency or 0,
            )
            dict_to_struct(d.parameters, payload.parameters)
            dict_to_struct(d.result, payload.result)
            env = new_event(AGGREGATE, d.name, actor=self.actor, tool_registered=payload)
            try:
                r = await self.log.append(env, expected_sequence=last.sequence if last else 0)
            except ConcurrencyConflict:
                continue
            await self._visible(r.sequence)
            await self.sync()
            return d, True
        raise ConcurrencyConflict(f"tool/{d.name}", 0, "registration kept changing; retry")

    @staticmethod
    def _from_event(r: tool_registry_pb2.ToolRegistered) -> ToolDefinition:
        return ToolDefinition(
            name=r.name,
            version=r.version,
            description=r.description,
            category=r.category,
            parameters=struct_to_dict(r.parameters),
            result=struct_to_dict(r.result),
            side_effects=r.side_effects,
            extra_agent_types=frozenset(r.extra_agent_types),
            timeout_s=r.timeout_s or None,
            max_concurrency=r.max_concurrency or None,
        )

    async def _visible(self, sequence: int) -> None:
        if not await self.projector.wait_for(sequence, self.read_wait_s):
            raise ProjectionLagging("the tool registration was recorded but is not readable yet; retry")

    async def sync(self) -> None:
        """Make the registry match the read model: add new registrations, drop retired ones."""
        rows = await self.pool.fetch(
            "SELECT name, definition, address, status, last_sequence FROM remote_tools"
        )
        for r in rows:
            name = r["name"]
            current = self._remote.get(name)
            if r["status"] != "active":
                if current is not None:
                    await self._drop(name)
                continue
            if current is not None and current[1] == r["last_sequence"]:
                continue
            if current is not None:
                await self._drop(name)
            elif name in self.registry:
                log.warning("remote tool %s shadows a local tool; ignored", name)
                continue
            d = definition_from_json(json.loads(r["definition"]))
            endpoint = RemoteEndpoint(r["address"])
            self.registry.add(d, endpoint.function(name))
            self._remote[name] = (endpoint, r["last_sequence"])
            self._failed.pop(name, None)
            if self.on_change:
                self.on_change(name)

    async def _drop(self, name: str) -> None:
        endpoint, _ = self._remote.pop(name)
        self.registry.remove(name)
        self._failed.pop(name, None)
        await endpoint.close()
        if self.on_change:
            self.on_change(name)

    async def check(self) -> list[str]:
        """Health-check every remote tool once; retire those failing `failures` times in a row."""
        retired: list[str] = []
        for name, (endpoint, seq) in list(self._remote.items()):
            ok, why = await endpoint.healthy(self.check_timeout_s)
            if ok:
                self._failed.pop(name, None)
                continue
            n = self._failed[name] = self._failed.get(name, 0) + 1
            log.warning("remote tool %s at %s: %s (%d/%d)", name, endpoint.address, why, n, self.failures)
            if n < self.failures:
                continue
            env = new_event(
                AGGREGATE,
                name,
                actor=self.actor,
                tool_retired=tool_registry_pb2.ToolRetired(
                    name=name, address=endpoint.address, reason=f"{why} ({n} checks in a row)"
                ),
            )
            try:
                r = await self.log.append(
                    env, msg_id=derived_id("tool_retired", name, str(seq)), expected_sequence=seq
                )
                await self.projector.wait_for(r.sequence, self.read_wait_s)
            except ConcurrencyConflict:
                pass  # re-registered or retired by another replica meanwhile: the sync decides
            await self._drop(name)
            retired.append(name)
        return retired

    async def run(self) -> None:
        """Sync and check every `interval_s` until stopped."""
        while not self._stopped:
            try:
                await self.sync()
                await self.check()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("remote tool monitor failed; retrying")
            await asyncio.sleep(self.interval_s)

    async def close(self) -> None:
        """Stop monitoring and close every channel."""
        self._stopped = True
        for endpoint, _ in self._remote.values():
            await endpoint.close()
