"""EventLog: append, read one aggregate, subscribe from a sequence — over NATS JetStream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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

    async def ensure_stream(self, *, duplicate_window_s: float = 120.0, replicas: int = 1) -> api.StreamInfo:
        """Create the stream if missing (file storage, direct get on); leave an existing one alone."""
        cfg = api.StreamConfig(
            name=self.stream,
            subjects=[f"{self.prefix}.>"],
            storage=api.StorageType.FILE,
            retention=api.RetentionPolicy.LIMITS,
            duplicate_window=duplicate_window_s,
            num_replicas=replicas,
            allow_direct=True,
            discard=api.DiscardPolicy.OLD,
        )
        try:
            return await self.js.stream_info(self.stream)
        except NotFoundError:
            pass
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
        except (NatsTimeout, NoRespondersError) as e:
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
    ) -> AsyncIterator[list[StoredEvent]]:
        """Events on `subjects` from `from_sequence` on, in order, as batches.

        An ephemeral pull consumer (no acks, in memory, removed when idle) is asked for up to
        `batch_size` events at a time: catching up it returns full batches, live it returns as
        soon as one event arrives. If the server drops the consumer (restart, inactivity) it is
        created again from the next sequence, so nothing is lost or repeated.
        """
        next_seq = max(1, from_sequence)
        while True:
            cfg = api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=next_seq,
                ack_policy=api.AckPolicy.NONE,
                inactive_threshold=max(30.0, idle_wait_s * 6),
                mem_storage=True,
                max_waiting=1,
            )
            if len(subjects) == 1:
                cfg.filter_subject = subjects[0]
            else:
                cfg.filter_subjects = list(subjects)
            info = await self.js.add_consumer(self.stream, cfg)
            psub = await self.js.pull_subscribe_bind(info.name, stream=self.stream)
            try:
                while True:
                    try:
                        msgs = await psub.fetch(batch_size, timeout=idle_wait_s)
                    except TimeoutError:
                        continue
                    batch = [self._from_consumer(m) for m in msgs]
                    next_seq = batch[-1].sequence + 1
                    yield batch
            except (
                NotFoundError,
                nats.js.errors.ServiceUnavailableError,
                nats.errors.ConnectionClosedError,
            ) as e:
                log.warning("subscription consumer lost (%s); resuming at sequence %d", e, next_seq)
                await asyncio.sleep(0.2)
            finally:
                with contextlib.suppress(Exception):
                    await psub.unsubscribe()
                with contextlib.suppress(Exception):
                    await self.js.delete_consumer(self.stream, info.name)

    @staticmethod
    def _from_consumer(msg: Msg) -> StoredEvent:
        seq = msg.metadata.sequence.stream
        ev = envelope_pb2.Event()
        ev.ParseFromString(msg.data)
        return StoredEvent(seq, msg.subject, ev)
