"""Queue depth of the workers' durable JetStream consumer."""

from __future__ import annotations

import logging

from nats.errors import Error as NatsError
from nats.js.client import JetStreamContext
from nats.js.errors import NotFoundError

from services.metrics.domain.report import QueueDepth

log = logging.getLogger(__name__)


class JetStreamQueueProbe:
    """Reads `num_pending` / `num_ack_pending` of one durable consumer."""

    def __init__(self, js: JetStreamContext, stream: str, consumer: str, *, timeout_s: float = 1.0) -> None:
        self.js = js
        self.stream = stream
        self.consumer = consumer
        self.timeout_s = timeout_s

    async def depth(self, timeout: float | None = None) -> QueueDepth | None:
        """Pending and in-flight messages; zero before the consumer exists; None if NATS cannot say."""
        try:
            info = await self.js.consumer_info(
                self.stream, self.consumer, timeout=min(self.timeout_s, timeout or 1e9)
            )
        except NotFoundError:
            return QueueDepth(pending=0, in_flight=0)
        except (NatsError, TimeoutError) as e:
            # The rollups are still worth answering with; the queue is reported as unknown.
            log.warning("queue depth of %s/%s unavailable: %r", self.stream, self.consumer, e)
            return None
        return QueueDepth(pending=int(info.num_pending or 0), in_flight=int(info.num_ack_pending or 0))
