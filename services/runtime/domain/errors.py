"""Errors raised while an agent runs; each knows its category and whether a retry may help."""

from __future__ import annotations

from labs_core.errors import LabsError

# Category names as stored in events (labs.events.v1.ErrorCategory without its prefix).
VALIDATION = "VALIDATION"
PERMISSION = "PERMISSION"
TOOL_UNAVAILABLE = "TOOL_UNAVAILABLE"
MODEL_UNAVAILABLE = "MODEL_UNAVAILABLE"
TIMEOUT = "TIMEOUT"
WORKER_LOST = "WORKER_LOST"
TOOL_ERROR = "TOOL_ERROR"
INTERNAL = "INTERNAL"
BUDGET = "BUDGET"

RETRYABLE = frozenset({TOOL_UNAVAILABLE, MODEL_UNAVAILABLE, TIMEOUT, WORKER_LOST})


class AgentError(LabsError):
    """An attempt failed; `category` decides whether it is retried."""

    category = INTERNAL

    def __init__(self, message: str, *, category: str | None = None, field: str = "") -> None:
        super().__init__(message)
        if category:
            self.category = category
        self.field = field

    @property
    def retryable(self) -> bool:
        """Whether another attempt may succeed."""
        return self.category in RETRYABLE


class InputInvalid(AgentError):
    """The action's input is wrong; `field` names the culprit. Never retried."""

    category = VALIDATION


class ToolUnavailable(AgentError):
    """A tool could not be reached or was overloaded. Retried."""

    category = TOOL_UNAVAILABLE


class ToolFailed(AgentError):
    """A tool answered with an error that a retry will not fix."""

    category = TOOL_ERROR


class ModelUnavailable(AgentError):
    """No model could answer. Retried."""

    category = MODEL_UNAVAILABLE


class NotAllowed(AgentError):
    """The agent may not use this tool. Never retried."""

    category = PERMISSION
