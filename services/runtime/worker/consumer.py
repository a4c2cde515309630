"""The worker: pulls ExecutionRequested messages from the durable consumer `agent-worker`.

Flow control: at most `max_concurrency` executions at once per worker; it only asks the
broker for as many messages as it has free slots, so several workers share the load.
Heartbeats: every `heartbeat_s` a running execution's message is marked in progress; the ack
wait is a few heartbeats long, so a dead worker's executions are redelivered promptly.
Retries use the broker's delayed redelivery (nak with a delay), which survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass

from labs.events.v1 import envelope_pb2
from nats.aio.msg import Msg
from nats.js import api
from nats.js.errors import BadRequestError

from labs_core.eventlog import EventLog, StoredEvent
from services.runtime.worker.runner import Runner

log = logging.getLogger(__name__)

CONSUMER = "agent-worker"


@dataclass(frozen=True)
class WorkerConfig:
    """How a worker consumes."""

    consumer: str = CONSUMER
    max_concurrency: int = 10
    heartbeat_s: float = 5.0
    ack_wait_s: float = 15.0
    max_ack_pending: int = 1000
    presence_interval_s: float = 5.0


def consumer_config(log_: EventLog, cfg: WorkerConfig) -> api.ConsumerConfig:
    """The durable consumer every worker shares."""
    return api.ConsumerConfig(
        durable_name=cfg.consumer,
        filter_subject=f"{log_.prefix}.execution.*.requested",
        ack_policy=api.AckPolicy.EXPLICIT,
        deliver_policy=api.DeliverPolicy.ALL,
        ack_wait=cfg.ack_wait_s,
        max_deliver=-1,
        max_ack_pending=cfg.max_ack_pending,
    )


def presence_subject(prefix: str) -> str:
    """Core NATS subject (outside the stream) on which workers announce themselves."""
    return f"_presence.{prefix}.worker"


def presence_ping_subject(prefix: str) -> str:
    """Core NATS subject on which an API asks every worker to announce itself now."""
    return f"_presence.{prefix}.ping"


class Worker:
    """Consumes executions and runs them with a Runner until stopped."""

    def __init__(self, eventlog: EventLog, runner: Runner, cfg: WorkerConfig) -> None:
        self.log = eventlog
        self.runner = runner
        self.cfg = cfg
        self.running: dict[str, asyncio.Task[None]] = {}
        self._slot_freed = asyncio.Event()

    async def ensure_consumer(self) -> None:
        """Create the durable consumer if it does not exist (or update its limits)."""
        cfg = consumer_config(self.log, self.cfg)
        try:
            await self.log.js.add_consumer(self.log.stream, cfg)
        except BadRequestError as e:  # exists with another config: keep it, say so
            log.warning("consumer %s exists with a different configuration: %s", self.cfg.consumer, e)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch and run executions until `stop` is set; then let running ones finish briefly."""
        await self.ensure_consumer()
        psub = await self.log.js.pull_subscribe_bind(self.cfg.consumer, stream=self.log.stream)
        cancel_sub = await self.log.nc.subscribe(
            f"{self.log.prefix}.execution.*.cancellation_requested", cb=self._on_cancel
        )
        ping_sub = await self.log.nc.subscribe(presence_ping_subject(self.log.prefix), cb=self._on_ping)
        presence = asyncio.create_task(self._announce(stop))
        try:
            while not stop.is_set():
                free = self.cfg.max_concurrency - len(self.running)
                if free <= 0:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                    continue
                try:
                    msgs = await psub.fetch(batch=free, timeout=1.0)
                except TimeoutError:
                    continue
                except Exception:
                    log.exception("fetch failed; retrying")
                    await asyncio.sleep(0.5)
                    continue
                for m in msgs:
                    self._spawn(m)
        finally:
            presence.cancel()
            with contextlib.suppress(Exception):
                await ping_sub.unsubscribe()
            with contextlib.suppress(Exception):
                await cancel_sub.unsubscribe()
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
            await self._drain()

    def _spawn(self, msg: Msg) -> None:
        execution_id = msg.subject.split(".")[-2]
        task = asyncio.create_task(self._handle(msg, execution_id))
        self.running[execution_id] = task

        def done(_: asyncio.Task[None]) -> None:
            self.running.pop(execution_id, None)
            self._slot_freed.set()

        task.add_done_callback(done)

    async def _handle(self, msg: Msg, execution_id: str) -> None:
        md = msg.metadata
        ev = envelope_pb2.Event()
        ev.ParseFromString(msg.data)
        requested = StoredEvent(md.sequence.stream, msg.subject, ev)
        beat = asyncio.create_task(self._heartbeat(msg))
        try:
            decision = await self.runner.handle(execution_id, requested, first_delivery=md.num_delivered == 1)
        except asyncio.CancelledError:
            raise  # shutting down: the message is redelivered after the ack wait
        except Exception:
            log.exception("execution %s: attempt could not be recorded; redelivering", execution_id)
            await msg.nak(delay=1.0)
            return
        finally:
            beat.cancel()
        if decision.ack:
            await msg.ack()
        else:
            await msg.nak(delay=decision.redeliver_after_s)

    async def _heartbeat(self, msg: Msg) -> None:
        while True:
            await asyncio.sleep(self.cfg.heartbeat_s)
            with contextlib.suppress(Exception):
                await msg.in_progress()

    async def _on_cancel(self, msg: Msg) -> None:
        execution_id = msg.subject.split(".")[-2]
        flag = self.runner.cancel_flags.get(execution_id)
        if flag is not None:
            flag.set()

    async def _on_ping(self, msg: Msg) -> None:
        with contextlib.suppress(Exception):
            await self.log.nc.publish(presence_subject(self.log.prefix), self.runner.worker_id.encode())

    async def _announce(self, stop: asyncio.Event) -> None:
        subject = presence_subject(self.log.prefix)
        while not stop.is_set():
            with contextlib.suppress(Exception):
                await self.log.nc.publish(subject, self.runner.worker_id.encode())
            await asyncio.sleep(self.cfg.presence_interval_s)

    async def _drain(self, grace_s: float = 5.0) -> None:
        tasks = list(self.running.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=grace_s)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
