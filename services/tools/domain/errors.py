"""The errors of the tools service; each maps to one gRPC status code (labs_core.grpcutil)."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from labs_core.errors import InvalidArgument, LabsError, NotFound, PermissionDenied, Unavailable


class ToolsError(LabsError):
    """Root of every error raised by the tools service."""


@dataclass(frozen=True, slots=True)
class FieldViolation:
    """One failing field: its path in the request and why it fails."""

    field: str
    reason: str


class ArgumentsInvalid(ToolsError, InvalidArgument):
    """Arguments fail the tool's schema; every failing field is listed (INVALID_ARGUMENT)."""

    def __init__(self, tool: str, violations: list[FieldViolation]) -> None:
        pairs = [(v.field, v.reason) for v in violations] or [("arguments", "invalid")]
        InvalidArgument.__init__(self, pairs[0][0], pairs[0][1], pairs)
        self.tool = tool
        self.args = (f"invalid arguments for {tool}: {self}",)


class ToolNotFound(ToolsError, NotFound):
    """No tool has that name (NOT_FOUND)."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no tool named {name!r}")
        self.name = name


class ToolNotPermitted(ToolsError, PermissionDenied):
    """The agent type may not invoke the tool (PERMISSION_DENIED)."""

    def __init__(self, tool: str, agent_type: str) -> None:
        super().__init__(f"agent type {agent_type or '(none)'} may not invoke tool {tool}")
        self.tool = tool
        self.agent_type = agent_type


class ToolBusy(ToolsError):
    """The tool is running as many calls as it may; retry later (RESOURCE_EXHAUSTED)."""

    grpc_code = grpc.StatusCode.RESOURCE_EXHAUSTED
    retryable = True


class ToolTimedOut(ToolsError):
    """The tool did not finish within its time limit (DEADLINE_EXCEEDED)."""

    grpc_code = grpc.StatusCode.DEADLINE_EXCEEDED
    retryable = True


class ToolFailed(ToolsError):
    """The tool broke: it raised an unexpected error or returned an invalid result (INTERNAL)."""

    grpc_code = grpc.StatusCode.INTERNAL


class ReadModelUnavailable(ToolsError, Unavailable):
    """The read model's database could not be reached or answered with an error (UNAVAILABLE)."""

    retryable = True


class ProjectionLagging(ToolsError, Unavailable):
    """A write was appended but the read model did not reach it in time (UNAVAILABLE)."""

    retryable = True
