"""The root exception of the shared package and the errors every layer agrees on."""

from __future__ import annotations


class LabsError(Exception):
    """Root of every error raised by labs_core and the services' domain code."""


class ConcurrencyConflict(LabsError):
    """An append expected an aggregate at one sequence and found it elsewhere (maps to ABORTED)."""

    def __init__(self, aggregate: str, expected: int, detail: str = "") -> None:
        super().__init__(
            f"concurrent write on {aggregate}: expected last sequence {expected}; {detail}".strip()
        )
        self.aggregate = aggregate
        self.expected = expected


class Unavailable(LabsError):
    """A dependency (the log, the database, a provider) cannot answer now (maps to UNAVAILABLE)."""


class EventLogUnavailable(Unavailable):
    """The event log could not be reached or answered with an error (maps to UNAVAILABLE)."""


class NotFound(LabsError):
    """The named thing does not exist (maps to NOT_FOUND)."""


class InvalidArgument(LabsError):
    """A request field is wrong; `field` names it (maps to INVALID_ARGUMENT).

    `violations` lists every (field, reason) when there are several; the first is `field`.
    """

    def __init__(self, field: str, reason: str, violations: list[tuple[str, str]] | None = None) -> None:
        self.violations = violations or [(field, reason)]
        text = "; ".join(f"{f}: {r}" if f else r for f, r in self.violations)
        super().__init__(text)
        self.field = field
        self.reason = reason


class FailedPrecondition(LabsError):
    """The request is valid but the system is not in a state to honour it."""


class AlreadyExists(LabsError):
    """A thing with that identity exists with different content."""


class PermissionDenied(LabsError):
    """The caller may not do this."""
