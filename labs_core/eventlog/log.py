"""EventLog: append, read one aggregate, subscribe from a sequence — over NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections import deque
from collections.abc import AsyncGenerator, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import nats
from labs.events.v1 import envelope_pb2
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeout
from nats.js import api
from nats.js.errors import APIError, NotFoundError

from labs_core import telemetry
from labs_core.errors import ConcurrencyConflict, EventLogUnavailable
from labs_core.eventlog import headers as h
from labs_core.eventlog.codec import aggregate_filter, subject_for
from labs_core.eventlog.wire import WireConnection, ack_position

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as stored: its stream sequence, subject and decoded envelope."""

    sequence: int
    subject: str
    event: envelope_pb2.Event


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an append landed; `duplicate` when the message id had been seen (nothing written)."""

    sequence: int
    duplicate: bool


class EventLog:
    """The one stream of events. Construct with `connect`; close with `close`."""

    def __init__(self, nc: NATS, stream: str, prefix: str, url: str = "") -> None:
        self.url = url
        self.nc = nc
        self.js = nc.jetstream()
        self.stream = stream
        self.prefix = prefix
        #: `replay` reads over a connection of its own, parsed in bulk (False: through the client).
        self.replay_over_wire = True

    @classmethod
    async def connect(
        cls, url: str, *, stream: str = "AGENTS", prefix: str = "agents", name: str = ""
    ) -> EventLog:
        """Connect to NATS; reconnects forever once connected."""
        try:
            nc = await nats.connect(
                url, name=name or None, max_reconnect_attempts=-1, reconnect_time_wait=0.5, connect_timeout=5
            )
        except (OSError, NatsTimeout, nats.errors.NoServersError) as e:
            raise EventLogUnavailable(f"cannot connect to NATS at {url}: {e}") from e
        return cls(nc, stream, prefix, url)

    async def close(self) -> None:
        """Drain and close the connection (idempotent)."""
        if not self.nc.is_closed:
            with contextlib.suppress(Exception):
                await self.nc.drain()

    async def ensure_stream(
        self, *, duplicate_window_s: float = 120.0, replicas: int = 1, compression: str = "s2"
    ) -> api.StreamInfo:
        """Create the stream if missing (file storage, direct get on, S2-compressed blocks).

        An existing stream is left alone except for its compression, which is brought to the one
        asked (the server compresses blocks as they fill; older blocks stay as they were written).
        Compression costs the server a little CPU per filled block; on a copy of the benchmark's
        events it took 44% off the disk they use. `compression="none"` turns it off.
        """
        comp = api.StoreCompression(compression)
        cfg = api.StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=duplicate_window_s,
            num_replicas=replicas,
            allow_direct=True,
            discard=api.DiscardPolicy.OLD,
            compression=comp,
        )
        try:
            info = await self.js.stream_info(self.stream)
        except NotFoundError:
            pass
        else:
            if (info.config.compression or api.StoreCompression.NONE) != comp:
                info.config.compression = comp
                try:
                    return await self.js.update_stream(info.config)
                except APIError as e:
                    log.warning(
                        "stream %s: compression stays %s: %s", self.stream, info.config.compression, e
                    )
            return info
        try:
            return await self.js.add_stream(cfg)
        except APIError as e:
            if e.err_code == 10058:  # created concurrently by another process
                return await self.js.stream_info(self.stream)
            raise

    async def append(
        self,
        event: envelope_pb2.Event,
        *,
        msg_id: str | None = None,
        expected_sequence: int | None = None,
        timeout: float = 5.0,
    ) -> AppendResult:
        """Append one event.

        `msg_id` makes the append idempotent within the stream's duplicate window.
        `expected_sequence` is the aggregate's last sequence as the writer saw it (0: the aggregate
        must not exist yet); if another write got in first, ConcurrencyConflict is raised.
        """
        subject = subject_for(self.prefix, event)
        hdrs: dict[str, str] = {}
        if msg_id:
            hdrs[h.MSG_ID] = msg_id
        if expected_sequence is not None:
            hdrs[h.EXPECTED_LAST_SUBJECT_SEQUENCE] = str(expected_sequence)
            hdrs[h.EXPECTED_LAST_SUBJECT_SEQUENCE_SUBJECT] = aggregate_filter(
                self.prefix, event.aggregate_type, event.aggregate_id
            )
        t0 = time.perf_counter()
        try:
            msg = await self.nc.request(
                subject, event.SerializeToString(), timeout=timeout, headers=hdrs or None
            )
        except (NatsTimeout, NoRespondersError, nats.errors.ConnectionClosedError) as e:
            telemetry.observe_append(event, time.perf_counter() - t0, "unavailable")
            raise EventLogUnavailable(f"append to {subject} failed: {e!r}") from e
        ack = json.loads(msg.data)
        err = ack.get("error")
        if err:
            if err.get("err_code") == h.ERR_WRONG_LAST_SEQUENCE:
                telemetry.observe_append(event, time.perf_counter() - t0, "conflict")
                raise ConcurrencyConflict(
                    f"{event.aggregate_type}/{event.aggregate_id}",
                    expected_sequence or 0,
                    err.get("description", ""),
                )
            telemetry.observe_append(event, time.perf_counter() - t0, "unavailable")
            raise EventLogUnavailable(f"append to {subject} refused: {err}")
        duplicate = bool(ack.get("duplicate"))
        telemetry.observe_append(event, time.perf_counter() - t0, "duplicate" if duplicate else "ok")
        return AppendResult(sequence=int(ack["seq"]), duplicate=duplicate)

    async def _direct_get(self, payload: dict[str, object]) -> Msg | None:
        try:
            msg = await self.nc.request(
                f"$JS.API.DIRECT.GET.{self.stream}", json.dumps(payload).encode(), timeout=5.0
            )
        except (NatsTimeout, NoRespondersError, nats.errors.ConnectionClosedError) as e:
            raise EventLogUnavailable(f"direct get failed: {e!r}") from e
        status = (msg.headers or {}).get("Status")
        if status == "404":
            return None
        if status and status != "200":
            raise EventLogUnavailable(
                f"direct get answered {status}: {(msg.headers or {}).get('Description')}"
            )
        return msg

    def _stored(self, msg: Msg) -> StoredEvent:
        hd = msg.headers or {}
        ev = envelope_pb2.Event()
        ev.ParseFromString(msg.data)
        return StoredEvent(int(hd["Nats-Sequence"]), hd["Nats-Subject"], ev)

    async def first_sequence(self, aggregate_type: str, aggregate_id: str) -> int | None:
        """The sequence of the aggregate's first event, or None when it has none."""
        msg = await self._direct_get(
            {"seq": 1, "next_by_subj": aggregate_filter(self.prefix, aggregate_type, aggregate_id)}
        )
        return None if msg is None else int((msg.headers or {})["Nats-Sequence"])

    async def last_on_subject(self, subject: str) -> StoredEvent | None:
        """The last event on one literal subject, or None."""
        msg = await self._direct_get({"last_by_subj": subject})
        return None if msg is None else self._stored(msg)

    async def read_aggregate(
        self, aggregate_type: str, aggregate_id: str, *, from_sequence: int = 1, limit: int = 0
    ) -> list[StoredEvent]:
        """Every event of one aggregate in order, starting at `from_sequence` (at most `limit` if > 0)."""
        filt = aggregate_filter(self.prefix, aggregate_type, aggregate_id)
        out: list[StoredEvent] = []
        seq = max(1, from_sequence)
        while not limit or len(out) < limit:
            msg = await self._direct_get({"seq": seq, "next_by_subj": filt})
            if msg is None:
                return out
            stored = self._stored(msg)
            out.append(stored)
            seq = stored.sequence + 1
        return out

    async def read_at(self, sequences: Iterable[int], *, at_once: int = 64) -> dict[int, StoredEvent]:
        """The events at these sequences (direct gets, `at_once` in flight); a sequence with no
        event is left out."""
        seqs = list(dict.fromkeys(sequences))
        out: dict[int, StoredEvent] = {}
        for i in range(0, len(seqs), at_once):
            part = seqs[i : i + at_once]
            msgs = await asyncio.gather(*(self._direct_get({"seq": s}) for s in part))
            out.update((s, self._stored(m)) for s, m in zip(part, msgs, strict=True) if m is not None)
        return out

    async def sequence_at(self, when: datetime) -> int | None:
        """The first sequence appended at or after `when` (the log's own clock), or None."""
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        msg = await self._direct_get({"start_time": stamp})
        return None if msg is None else int((msg.headers or {})["Nats-Sequence"])

    async def last_sequence(self) -> int:
        """The stream's last sequence (0 when empty)."""
        info = await self.js.stream_info(self.stream)
        return int(info.state.last_seq)

    async def pending_count(self, subjects: Sequence[str], from_sequence: int = 1) -> int:
        """How many events on `subjects` there are from `from_sequence` on, right now."""
        cfg = api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(1, from_sequence),
            ack_policy=api.AckPolicy.NONE,
            inactive_threshold=5.0,
            mem_storage=True,
        )
        if len(subjects) == 1:
            cfg.filter_subject = subjects[0]
        else:
            cfg.filter_subjects = list(subjects)
        info = await self.js.add_consumer(self.stream, cfg)
        try:
            return int(info.num_pending or 0)
        finally:
            with contextlib.suppress(Exception):
                await self.js.delete_consumer(self.stream, info.name)

    async def subscribe(
        self,
        subjects: Sequence[str],
        from_sequence: int,
        *,
        batch_size: int = 500,
        idle_wait_s: float = 5.0,
        catch_up_wait_s: float = 0.005,
        linger_s: float = 0.0,
        hurry: Hurry | None = None,
        urgent: Callable[[str], bool] | None = None,
    ) -> AsyncGenerator[list[StoredEvent], None]:
        """Events on `subjects` from `from_sequence` on, in order, as batches.

        An ephemeral pull consumer (no acks, in memory, removed when idle) delivers to one inbox
        whose callback only queues; pull requests ask for `batch_size` at a time and a new one
        goes out as soon as the previous is used up. A batch is what has arrived, up to
        `batch_size`; while the consumer reports more pending (catching up) it waits up to
        `catch_up_wait_s` to fill it, live events are handed over at once — or, with `linger_s`,
        once `linger_s` has passed since the batch's first event (for readers nobody waits on: a
        few events per transaction cost far more than one batch a little later), or as soon as
        `hurry` says somebody waits for one of them, or one of them is `urgent(subject)`. If the
        server drops the consumer (restart, inactivity) it is created again from the next sequence.
        """
        next_seq = max(1, from_sequence)
        while True:
            cfg = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=next_seq,
                ack_policy=api.AckPolicy.NONE,
                inactive_threshold=max(30.0, idle_wait_s * 6),
                mem_storage=True,
            )
            # nats-server serves a consumer with several filter subjects more than 20 times
            # slower than one with a single filter (measured: 2,600 vs 64,000 events/s), so
            # several subjects are read through the stream's wildcard and matched here.
            cfg.filter_subject = subjects[0] if len(subjects) == 1 else f"{self.prefix}.>"
            wanted = None if len(subjects) == 1 else SubjectMatcher(subjects)
            info = await self.js.add_consumer(self.stream, cfg)
            puller = _Puller(self, info.name, batch_size, idle_wait_s, wanted, hurry, urgent)
            await puller.start()
            try:
                _raise_if_cancel_was_swallowed()
                async for batch in puller.batches(catch_up_wait_s, linger_s):
                    next_seq = batch[-1].sequence + 1
                    yield batch
            except _ConsumerGone as e:
                log.warning("subscription consumer lost (%s); resuming at sequence %d", e, next_seq)
                await asyncio.sleep(0.2)
            finally:
                await puller.stop()
                with contextlib.suppress(Exception):
                    await self.js.delete_consumer(self.stream, info.name)

    async def replay(
        self,
        subjects: Sequence[str],
        from_sequence: int = 1,
        *,
        until: int | None = None,
        batch_size: int = 5000,
    ) -> AsyncGenerator[list[StoredEvent], None]:
        """The events on `subjects` from `from_sequence` up to `until` (default: the stream's last
        sequence now), in order, as batches of up to `batch_size`; ends there.

        For catching up, not following: each subject filter gets an ephemeral consumer of its own
        (nats-server serves a single-filter consumer at full speed) and their events are merged by
        sequence, so no event of another subject crosses the wire or is matched here.
        """
        if until is None:
            until = await self.last_sequence()
        start = max(1, from_sequence)
        if until < start:
            return
        # Over a connection of replay's own, parsed in bulk (wire.py), unless the server is not
        # plain nats:// (TLS): then through the client.
        wire = await WireConnection.open(self.nc.connected_url) if self.replay_over_wire else None
        sources: list[_Source | _WireSource] = [
            _WireSource(self, wire, f, start, until, batch_size)
            if wire
            else _Source(self, f, start, until, batch_size)
            for f in _covering(subjects)
        ]
        try:
            for src in sources:
                await src.open()
            last = 0
            out: list[StoredEvent] = []
            while True:
                for src in sources:
                    if not src.buf and not src.done:
                        await src.fill()
                live = [src for src in sources if src.buf or not src.done]
                if not live:
                    break
                # Everything up to the smallest sequence some open source may still deliver after.
                bound = min((src.buf[-1].sequence for src in live if not src.done), default=until)
                ready: list[StoredEvent] = []
                for src in live:
                    k = _count_upto(src.buf, bound)
                    if k:
                        ready += src.buf[:k]
                        del src.buf[:k]
                if len(live) > 1:
                    ready.sort(key=_sequence_of)
                for se in ready:
                    if se.sequence > last:  # a subject matched by two filters comes once
                        last = se.sequence
                        out.append(se)
                while len(out) >= batch_size:
                    yield out[:batch_size]
                    del out[:batch_size]
            if out:
                yield out
        finally:
            for src in sources:
                await src.close()
            if wire is not None:
                await wire.close()


def _covering(filters: Sequence[str]) -> list[str]:
    """The filters no other one covers (`a.>` covers `a.*.b`): an event is read by one consumer."""
    unique = list(dict.fromkeys(filters))
    split = [f.split(".") for f in unique]
    return [
        f
        for i, f in enumerate(unique)
        if not any(j != i and _covers(split[j], split[i]) for j in range(len(unique)))
    ]


def _covers(b: list[str], a: list[str]) -> bool:
    """Whether every subject filter `a` matches also matches `b` (both split into tokens)."""
    for i, bt in enumerate(b):
        if bt == ">":
            return i < len(a)
        if i >= len(a) or a[i] == ">" or (bt != "*" and a[i] != bt):
            return False
    return len(a) == len(b)


def _sequence_of(se: StoredEvent) -> int:
    return se.sequence


def _count_upto(buf: list[StoredEvent], bound: int) -> int:
    """How many leading events of `buf` (in sequence order) are at or below `bound`."""
    lo, hi = 0, len(buf)
    while lo < hi:
        mid = (lo + hi) // 2
        if buf[mid].sequence <= bound:
            lo = mid + 1
        else:
            hi = mid
    return lo


async def _replay_consumer(log_: EventLog, subject: str, start: int) -> api.ConsumerInfo:
    """An ephemeral, unacknowledged consumer of one subject filter from `start`, for replay."""
    cfg = api.ConsumerConfig(
        deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
        opt_start_seq=start,
        ack_policy=api.AckPolicy.NONE,
        # A source is not pulled while its buffered events wait for the other sources' earlier
        # ones (a long stretch of the log): the server must not drop it meanwhile.
        inactive_threshold=3600.0,
        mem_storage=True,
        filter_subject=subject,
    )
    return await log_.js.add_consumer(log_.stream, cfg)


class _Source:
    """One subject filter's events in [start, until] through a consumer of its own (for replay)."""

    def __init__(self, log_: EventLog, subject: str, start: int, until: int, batch: int) -> None:
        self.log = log_
        self.subject = subject
        self.start = start
        self.until = until
        self.batch_size = batch
        self.buf: list[StoredEvent] = []
        self.done = False
        self.name = ""
        self.puller: _Puller | None = None
        self.batches: AsyncGenerator[list[StoredEvent], None] | None = None

    async def open(self) -> None:
        info = await _replay_consumer(self.log, self.subject, self.start)
        self.name = info.name  # known before a swallowed cancellation is raised: close() deletes it
        _raise_if_cancel_was_swallowed()
        if not info.num_pending:
            self.done = True
            return
        self.puller = _Puller(self.log, info.name, self.batch_size, 5.0, None)
        await self.puller.start()
        self.batches = self.puller.batches(0.005)

    async def fill(self) -> None:
        assert self.batches is not None and self.puller is not None
        try:
            got = await anext(self.batches)
        except _ConsumerGone as e:
            raise EventLogUnavailable(f"replay of {self.subject} lost its consumer: {e}") from e
        if got[-1].sequence >= self.until or self.puller.caught_up:
            self.done = True
            got = got[: _count_upto(got, self.until)]
        self.buf = got

    async def close(self) -> None:
        if self.batches is not None:
            with contextlib.suppress(Exception):
                await self.batches.aclose()
        if self.puller is not None:
            await self.puller.stop()
        if self.name:
            with contextlib.suppress(Exception):
                await self.log.js.delete_consumer(self.log.stream, self.name)


class _WireSource:
    """One subject filter's events in [start, until] through a consumer of its own, pulled over
    replay's own connection: each delivery is decoded where it is parsed (for replay)."""

    def __init__(
        self, log_: EventLog, wire: WireConnection, subject: str, start: int, until: int, batch: int
    ) -> None:
        self.log = log_
        self.wire = wire
        self.subject = subject
        self.start = start
        self.until = until
        self.batch_size = batch
        self.buf: list[StoredEvent] = []
        self.done = False
        self.name = ""
        # Pulls of at most 1,000 events and about `_PULL_BYTES` (sized on the events seen so far):
        # what is sent but not yet read while the consumer applies a batch stays small, so the
        # server never takes this connection for a slow consumer.
        self.pull = min(batch, 1000)
        self._bytes = 0
        self._events = 0
        self._arrived: list[StoredEvent] = []
        self._finished = False  # the last event wanted (or nothing pending) has arrived
        self._outstanding = 0
        self._next = ""
        self._inbox = ""
        self._error = ""

    async def open(self) -> None:
        info = await _replay_consumer(self.log, self.subject, self.start)
        self.name = info.name  # known before a swallowed cancellation is raised: close() deletes it
        _raise_if_cancel_was_swallowed()
        if not info.num_pending:
            self.done = True
            return
        self._next = f"$JS.API.CONSUMER.MSG.NEXT.{self.log.stream}.{info.name}"
        self._inbox = self.wire.subscribe(self)
        self._request()

    def _request(self) -> None:
        if self._events:
            self.pull = max(1, min(self.batch_size, 1000, _PULL_BYTES * self._events // self._bytes))
        self._outstanding = self.pull
        body = json.dumps({"batch": self.pull, "expires": 5_000_000_000}).encode()
        self.wire.publish(self._next, self._inbox, body)

    def on_event(self, subject: bytes, reply: bytes, payload: bytes) -> None:
        if self._finished:
            return
        seq, pending = ack_position(reply)
        self._events += 1
        self._bytes += len(payload)
        if seq <= self.until:
            self._arrived.append(StoredEvent(seq, subject.decode(), _parse_event(payload)))
        if seq >= self.until or pending == 0:
            self._finished = True
            return
        self._outstanding -= 1
        if self._outstanding <= 0:
            self._request()

    def on_status(self, status: bytes, head: bytes) -> None:
        if self._finished or status == b"100":  # heartbeat or flow control
            return
        if status in (b"404", b"408") or (status == b"409" and b"Consumer" not in head):
            self._request()  # no messages, request expired, batch done: ask again
        else:
            self._error = head.decode(errors="replace").strip()

    async def fill(self) -> None:
        while not self._arrived and not self._finished:
            if self._error:
                raise EventLogUnavailable(f"replay of {self.subject} lost its consumer: {self._error}")
            await self.wire.pump()
        self.buf, self._arrived = self._arrived, []
        self.done = self._finished

    async def close(self) -> None:
        if self.name:
            with contextlib.suppress(Exception):
                await self.log.js.delete_consumer(self.log.stream, self.name)


_parse_event = envelope_pb2.Event.FromString
_PULL_BYTES = 1 << 20


class SubjectMatcher:
    """Whether a subject matches any of some NATS subject filters (`*` one token, `>` the rest).

    The filters are compiled into one regular expression, so a subject is matched in one C call
    (this runs for every message a multi-subject subscription reads, wanted or not).
    """

    def __init__(self, filters: Sequence[str]) -> None:
        self._match = re.compile("|".join(_filter_pattern(f.split(".")) for f in filters)).fullmatch

    def __call__(self, subject: str) -> bool:
        return self._match(subject) is not None


def _filter_pattern(f: list[str]) -> str:
    out: list[str] = []
    for i, ft in enumerate(f):
        if ft == ">" and i == len(f) - 1:
            out.append(r"[^.]+(?:\.[^.]+)*")
        elif ft == "*":
            out.append(r"[^.]+")
        else:
            out.append(re.escape(ft))
    return "(?:" + r"\.".join(out) + ")"


def _raise_if_cancel_was_swallowed() -> None:
    """Re-raise a cancellation an awaited call swallowed.

    nats-py's JetStream API calls await `asyncio.wait_for`, which on Python 3.11 can swallow a
    cancellation that arrives as the reply does; the subscription would then create its next
    consumer and wait for events forever while its owner waits for it to end. The task still
    counts the request (`cancelling()`), so it is raised here, before waiting on anything.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class Hurry:
    """Cuts a subscription's linger short: somebody waits for an event it may be holding back.

    `want(sequence)` records the highest sequence waited for and wakes the subscriptions that
    use it; a lingering batch that starts at or below it is handed over at once. Batches after
    it linger again.
    """

    def __init__(self) -> None:
        self.wanted = 0
        self._inboxes: set[_Inbox] = set()

    def attach(self, inbox: _Inbox) -> None:
        self._inboxes.add(inbox)

    def detach(self, inbox: _Inbox) -> None:
        self._inboxes.discard(inbox)

    def want(self, sequence: int) -> None:
        if sequence > self.wanted:
            self.wanted = sequence
            for inbox in self._inboxes:
                inbox.ready.set()


class _ConsumerGone(Exception):
    """The pull consumer no longer exists (or its stream is gone)."""


def _ack_position(reply: str) -> tuple[int, int]:
    """(stream sequence, pending) from a JetStream ack subject, v1 or v2 form."""
    t = reply.split(".")
    if len(t) == 9:  # $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>
        return int(t[5]), int(t[8])
    # $JS.ACK.<domain>.<account hash>.<stream>.<consumer>.<delivered>.<sseq>.<cseq>.<ts>.<pending>[.<token>]
    return int(t[7]), int(t[10])


class _Puller:
    """Pull requests and a queueing inbox for one consumer (cheaper than a per-message await)."""

    def __init__(
        self,
        log_: EventLog,
        consumer: str,
        batch: int,
        expires_s: float,
        wanted: SubjectMatcher | None,
        hurry: Hurry | None = None,
        urgent: Callable[[str], bool] | None = None,
    ) -> None:
        self.log = log_
        self.wanted = wanted
        self.hurry = hurry
        self.urgent = urgent
        self.subject = f"$JS.API.CONSUMER.MSG.NEXT.{log_.stream}.{consumer}"
        self.batch = batch
        self.expires_ns = int(expires_s * 1e9)
        self.queue = _Inbox()
        self.inbox = log_.nc.new_inbox()
        self.sub: Any = None
        self.outstanding = 0  # messages the current request may still deliver
        self.caught_up = False  # the last batch handed over ended with nothing pending

    async def start(self) -> None:
        if self.hurry is not None:
            self.hurry.attach(self.queue)
        self.sub = await self.log.nc.subscribe(self.inbox, cb=self._on_msg)
        await self._request()

    async def stop(self) -> None:
        if self.hurry is not None:
            self.hurry.detach(self.queue)
        if self.sub is not None:
            with contextlib.suppress(Exception):
                await self.sub.unsubscribe()

    async def _request(self) -> None:
        self.outstanding = self.batch
        body = json.dumps({"batch": self.batch, "expires": self.expires_ns}).encode()
        await self.log.nc.publish(self.subject, body, reply=self.inbox)

    async def _on_msg(self, msg: Msg) -> None:
        status = msg.headers.get("Status") if msg.headers else None
        if status is None:
            self.queue.put_nowait(msg)
            return
        if status == "100":  # heartbeat or flow control
            return
        desc = (msg.headers or {}).get("Description", "")
        if status in ("404", "408") or (status == "409" and "Consumer" not in desc):
            # No messages, request expired, batch or leadership done: ask again.
            self.queue.put_nowait(_REQUEST_AGAIN)
        else:  # the consumer was deleted (or is unusable): recreate it
            self.queue.put_nowait(_ConsumerGone(f"{status} {desc}"))

    async def batches(
        self, catch_up_wait_s: float, linger_s: float = 0.0
    ) -> AsyncGenerator[list[StoredEvent], None]:
        loop = asyncio.get_running_loop()
        while True:
            item = await self.queue.get()
            msgs: list[Msg] = []
            first = loop.time()
            deadline = first + catch_up_wait_s
            lingered = first + linger_s
            while True:
                if isinstance(item, Msg):
                    msgs.append(item)
                    if self.urgent is not None and self.urgent(item.subject):
                        lingered = first
                    self.outstanding -= 1
                    if self.outstanding <= 0:
                        await self._request()
                elif item is _REQUEST_AGAIN:
                    await self._request()
                else:
                    if msgs:
                        self.queue.put_back(item)  # raised after this batch is handed over
                        break
                    raise item
                if len(msgs) >= self.batch:
                    break
                if not self.queue.empty():
                    item = self.queue.get_nowait()
                    continue
                if not msgs:
                    item = await self.queue.get()
                    continue
                # Caught up (nothing pending) or waited long enough: hand the batch over.
                caught_up = _ack_position(msgs[-1].reply)[1] == 0
                # (the first event's sequence is parsed only while the batch still lingers)
                if (
                    self.hurry is not None
                    and lingered > first
                    and self.hurry.wanted >= _ack_position(msgs[0].reply)[0]
                ):
                    lingered = first
                remaining = (lingered if caught_up else max(deadline, lingered)) - loop.time()
                if remaining <= 0:
                    break
                got = await self.queue.get_within(remaining)
                if got is None:
                    break
                item = got
            self.caught_up = _ack_position(msgs[-1].reply)[1] == 0
            if self.wanted is not None:
                msgs = [m for m in msgs if self.wanted(m.subject)]
                if not msgs:
                    continue
            yield [_stored_from(m) for m in msgs]


_REQUEST_AGAIN = RuntimeError("request again")


class _Inbox:
    """A FIFO of messages and signals from the subscription callback: a deque and one event, which
    costs a fraction of an asyncio.Queue per message (this runs for every message read)."""

    def __init__(self) -> None:
        self.items: deque[Msg | Exception] = deque()
        self.ready = asyncio.Event()

    def put_nowait(self, item: Msg | Exception) -> None:
        self.items.append(item)
        self.ready.set()

    def put_back(self, item: Msg | Exception) -> None:
        self.items.appendleft(item)
        self.ready.set()

    def empty(self) -> bool:
        return not self.items

    def get_nowait(self) -> Msg | Exception:
        return self.items.popleft()

    async def get(self) -> Msg | Exception:
        while not self.items:
            self.ready.clear()
            await self.ready.wait()
        return self.items.popleft()

    async def get_within(self, timeout: float) -> Msg | Exception | None:
        """The next item, or None if none arrives within `timeout` seconds."""
        if not self.items:
            # A timer that sets the event, not asyncio.wait_for: on Python 3.11 wait_for can
            # swallow a cancellation that races with the wait's end, and the reader runs on.
            self.ready.clear()
            timer = asyncio.get_running_loop().call_later(timeout, self.ready.set)
            try:
                await self.ready.wait()
            finally:
                timer.cancel()
        return self.items.popleft() if self.items else None


def _stored_from(msg: Msg) -> StoredEvent:
    ev = envelope_pb2.Event()
    ev.ParseFromString(msg.data)
    return StoredEvent(_ack_position(msg.reply)[0], msg.subject, ev)
