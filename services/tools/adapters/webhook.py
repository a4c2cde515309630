"""Webhook delivery: POST signed JSON to a configured endpoint, retrying transient failures."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

import aiohttp

from services.tools.domain.notifications import (
    ATTEMPT_HEADER,
    NOTIFICATION_ID_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Delivery,
    sign,
)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """At most `attempts` tries; waits backoff_s, 2*backoff_s, ... between them."""

    attempts: int = 3
    backoff_s: float = 0.5
    timeout_s: float = 3.0


def _retryable(status: int) -> bool:
    return status >= 500 or status in (408, 429)


class WebhookSender:
    """Delivers to one URL with one secret. The URL comes from settings, never from a caller."""

    def __init__(self, session: aiohttp.ClientSession, policy: RetryPolicy) -> None:
        self.session = session
        self.policy = policy

    async def deliver(self, url: str, secret: bytes, notification_id: str, body: bytes) -> Delivery:
        """POST `body` until a 2xx, a non-retryable status, or the attempts are spent."""
        started = time.perf_counter()
        status, error = 0, ""
        attempt = 0
        for attempt in range(1, self.policy.attempts + 1):
            ts = str(int(time.time()))
            headers = {
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(secret, ts, body),
                TIMESTAMP_HEADER: ts,
                NOTIFICATION_ID_HEADER: notification_id,
                ATTEMPT_HEADER: str(attempt),
                "User-Agent": "labs-tools-webhook/1",
            }
            try:
                async with self.session.post(
                    url,
                    data=body,
                    headers=headers,
                    timeout=aiohttp.ClientTimeout(total=self.policy.timeout_s),
                    allow_redirects=False,  # a redirect could point anywhere: not followed
                ) as resp:
                    status = resp.status
                    await resp.read()
                if 200 <= status < 300:
                    return Delivery(True, attempt, status, "", _us(started))
                error = f"endpoint answered HTTP {status}"
                if not _retryable(status):
                    break
            except (aiohttp.ClientError, TimeoutError) as e:
                status, error = 0, f"{type(e).__name__}: {e}".strip().rstrip(":")
            if attempt < self.policy.attempts:
                await asyncio.sleep(self.policy.backoff_s * 2 ** (attempt - 1))
        return Delivery(False, attempt, status, error, _us(started))


def _us(started: float) -> int:
    return int((time.perf_counter() - started) * 1_000_000)
