"""Audit queries: an execution's event history straight from the log, paged or followed live."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from dataclasses import dataclass

from labs_core.errors import InvalidArgument, NotFound
from labs_core.eventlog import EventLog, StoredEvent
from labs_core.eventlog.codec import aggregate_filter, subject_token
from labs_core.ids import require_issued_id

#: Payload kinds that end an execution: nothing follows one of them.
TERMINAL_KINDS = frozenset(
    {"execution_completed", "execution_failed", "execution_timed_out", "execution_cancelled"}
)
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def is_terminal(stored: StoredEvent) -> bool:
    """Whether the event ends its execution."""
    return stored.event.WhichOneof("payload") in TERMINAL_KINDS


def encode_page_token(sequence: int) -> str:
    """An opaque page token for a resume sequence."""
    return base64.urlsafe_b64encode(f"seq:{sequence}".encode()).decode()


def decode_page_token(token: str) -> int:
    """The sequence in a page token; InvalidArgument when it is not one of ours."""
    try:
        kind, _, seq = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind != "seq" or int(seq) < 1:
            raise ValueError(token)
        return int(seq)
    except Exception as e:
        raise InvalidArgument("page_token", "not a token this service issued") from e


@dataclass(frozen=True)
class EventPage:
    """A page of an execution's events and where the next page starts (0: none so far)."""

    events: list[StoredEvent]
    next_from_sequence: int
    finished: bool


class AuditLog:
    """Reads executions' histories from the event log: one direct get per event, no consumer."""

    def __init__(self, eventlog: EventLog) -> None:
        self.log = eventlog

    async def _require(self, execution_id: str) -> None:
        require_issued_id("execution_id", execution_id)
        if await self.log.first_sequence("execution", execution_id) is None:
            raise NotFound(f"execution {execution_id} not found")

    async def terminal_sequence(self, execution_id: str) -> int | None:
        """The sequence of the execution's terminal event, or None while it has none."""
        found = []
        for kind in TERMINAL_KINDS:
            subject = f"{self.log.prefix}.execution.{execution_id}.{subject_token('execution', kind)}"
            stored = await self.log.last_on_subject(subject)
            if stored is not None:
                found.append(stored.sequence)
        return min(found) if found else None

    async def list_events(
        self, execution_id: str, *, from_sequence: int = 0, page_size: int = 0, page_token: str = ""
    ) -> EventPage:
        """A page of the execution's events from `from_sequence` (or the token's position) on."""
        if page_size < 0 or page_size > MAX_PAGE_SIZE:
            raise InvalidArgument(
                "page_size", f"must be between 1 and {MAX_PAGE_SIZE} (0: {DEFAULT_PAGE_SIZE})"
            )
        if from_sequence < 0:
            raise InvalidArgument("from_sequence", "must not be negative")
        start = decode_page_token(page_token) if page_token else max(1, from_sequence)
        await self._require(execution_id)
        size = page_size or DEFAULT_PAGE_SIZE
        events = await self.log.read_aggregate("execution", execution_id, from_sequence=start, limit=size + 1)
        more = len(events) > size
        events = events[:size]
        finished = (
            any(is_terminal(e) for e in events) or await self.terminal_sequence(execution_id) is not None
        )
        return EventPage(events, events[-1].sequence + 1 if more else 0, finished)

    async def follow(self, execution_id: str, *, from_sequence: int = 0) -> AsyncIterator[StoredEvent]:
        """The execution's events from `from_sequence` on, live, ending after its terminal event.

        One ordered consumer filtered on the execution's subjects delivers what is recorded and then
        what is appended, in sequence order, so a client that resumes at last-seen + 1 gets every
        event exactly once.
        """
        if from_sequence < 0:
            raise InvalidArgument("from_sequence", "must not be negative")
        await self._require(execution_id)
        start = max(1, from_sequence)
        terminal = await self.terminal_sequence(execution_id)
        if terminal is not None and terminal < start:
            return
        filt = aggregate_filter(self.log.prefix, "execution", execution_id)
        async for batch in self.log.subscribe([filt], start, batch_size=100):
            for stored in batch:
                yield stored
                if is_terminal(stored):
                    return
