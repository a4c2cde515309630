"""Sending notifications: every one is an event; webhook deliveries record their outcome."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from labs_core.auth import granted
from labs_core.errors import InvalidArgument, PermissionDenied
from labs_core.projector import Projector
from services.tools.adapters.collection_events import AggregateStore, delivery_outcome, notification_sent
from services.tools.adapters.webhook import WebhookSender
from services.tools.domain.errors import ArgumentsInvalid, FieldViolation, ProjectionLagging
from services.tools.domain.notifications import Delivery


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A configured webhook endpoint: where to POST and the secret to sign with."""

    url: str
    secret: bytes


class NotificationService:
    """send (in_app or webhook) and the inbox query."""

    def __init__(
        self,
        store: AggregateStore,
        pool: asyncpg.Pool,
        projector: Projector,
        sender: WebhookSender | None,
        endpoints: Mapping[str, Endpoint],
        *,
        read_wait_s: float = 5.0,
    ) -> None:
        self.store = store
        self.pool = pool
        self.projector = projector
        self.sender = sender
        self.endpoints = dict(endpoints)
        self.read_wait_s = read_wait_s

    async def send(
        self,
        *,
        channel: str,
        recipient: str,
        subject: str,
        body: str,
        webhook: str,
        key: str,
        correlation_id: str,
    ) -> dict[str, Any]:
        """Record the notification, deliver it (webhook), record the outcome; once per key."""
        endpoint = None
        if channel == "webhook":
            endpoint = self.endpoints.get(webhook)
            if endpoint is None or self.sender is None:
                known = ", ".join(sorted(self.endpoints)) or "none"
                raise ArgumentsInvalid(
                    "send_notification",
                    [
                        FieldViolation(
                            "arguments.webhook", f"is not a configured endpoint (configured: {known})"
                        )
                    ],
                )
        nid = "ntf_" + hashlib.sha256(f"notification\0{key}".encode()).hexdigest()[:24]
        history = await self.store.history(nid)
        kinds = {s.event.WhichOneof("payload"): s for s in history}
        last = history[-1].sequence if history else 0
        if history:
            sent = kinds["notification_sent"].event.notification_sent
            if (sent.channel, sent.recipient, sent.subject, sent.body, sent.endpoint) != (
                channel, recipient, subject, body, webhook if channel == "webhook" else "",
            ):  # fmt: skip
                raise InvalidArgument("idempotency_key", "was used for a different notification")
        else:
            env = notification_sent(
                nid,
                channel=channel,
                recipient=recipient,
                subject=subject,
                body=body,
                endpoint=webhook if channel == "webhook" else "",
                idempotency_key=key,
                actor="tools",
                correlation_id=correlation_id,
            )
            last = (await self.store.append(env, msg_id=f"{nid}:sent", expected_sequence=0)).sequence
        outcome: Delivery | None = None
        for done in ("notification_delivered", "notification_delivery_failed"):
            if done in kinds:
                d = getattr(kinds[done].event, done)
                outcome = Delivery(
                    done == "notification_delivered",
                    d.attempts,
                    d.status_code,
                    getattr(d, "error", ""),
                    d.duration_us,
                )
        if endpoint is not None and outcome is None:
            # Not delivered yet (first call, or a crash between the two events): deliver now. The
            # receiver deduplicates on X-Labs-Notification-Id, so a second POST after a crash is safe.
            assert self.sender is not None
            payload = {
                "notification_id": nid,
                "recipient": recipient,
                "subject": subject,
                "body": body,
                "correlation_id": correlation_id,
            }
            raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
            outcome = await self.sender.deliver(endpoint.url, endpoint.secret, nid, raw)
            env = delivery_outcome(nid, outcome, actor="tools", correlation_id=correlation_id)
            last = (await self.store.append(env, msg_id=f"{nid}:outcome", expected_sequence=last)).sequence
        if not await self.projector.wait_for(last, self.read_wait_s):
            raise ProjectionLagging(f"notification {nid} not yet in the read model")
        out: dict[str, Any] = {
            "notification_id": nid,
            "channel": channel,
            "recipient": recipient,
            "status": "delivered" if outcome is None or outcome.delivered else "failed",
            "created": not history,
        }
        if outcome is not None:
            out["delivery"] = {
                "delivered": outcome.delivered,
                "attempts": outcome.attempts,
                "status_code": outcome.status_code,
                "error": outcome.error,
                "duration_ms": round(outcome.duration_us / 1000, 3),
                "endpoint": webhook,
            }
        return out

    async def inbox(
        self, recipient: str, *, channel: str = "", page_size: int = 20, page_token: str = ""
    ) -> tuple[list[asyncpg.Record], str, int]:
        """A recipient's notifications ("" : everyone's) newest first (keyset pages), next token, total.

        Who may ask for whom is the caller's concern (see `visible_recipient`).
        """
        if channel and channel not in ("in_app", "webhook"):
            raise InvalidArgument("channel", "must be in_app or webhook")
        if page_size < 0 or page_size > 100:
            raise InvalidArgument("page_size", "must be between 1 and 100")
        size = page_size or 20
        after: tuple[datetime, str] | None = None
        if page_token:
            try:
                at, nid = json.loads(base64.urlsafe_b64decode(page_token.encode()))
                after = (datetime.fromisoformat(at), str(nid))
            except (ValueError, TypeError) as e:
                raise InvalidArgument("page_token", "is not a token this service issued") from e
        async with self.pool.acquire() as conn:
            # Two statements rather than "$1 = '' OR recipient = $1", which a generic plan
            # could not serve from the recipient index.
            who = "recipient = $1" if recipient else "$1 = ''"
            rows = await conn.fetch(
                f"SELECT * FROM notifications WHERE {who} AND ($2 = '' OR channel = $2) "
                "AND ($3::timestamptz IS NULL OR (created_at, id) < ($3, $4)) "
                "ORDER BY created_at DESC, id DESC LIMIT $5",
                recipient,
                channel,
                after[0] if after else None,
                after[1] if after else "",
                size + 1,
            )
            total = await conn.fetchval(
                f"SELECT count(*) FROM notifications WHERE {who} AND ($2 = '' OR channel = $2)",
                recipient,
                channel,
            )
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            tail = rows[-1]
            token = base64.urlsafe_b64encode(
                json.dumps([tail["created_at"].isoformat(), tail["id"]]).encode()
            ).decode()
        return list(rows), token, int(total)


def visible_recipient(recipient: str, actor: str, role: str) -> str:
    """Whose notifications a caller may list ("": everyone's); PermissionDenied otherwise.

    `actor` and `role` are the authenticated caller. A role holding notifications.admin (admin)
    may name anyone or no one; any other role sees only notifications addressed to its own key
    name; no role at all sees nothing.
    """
    if not role:
        raise PermissionDenied("listing notifications needs an authenticated caller with a role")
    if granted(role, "notifications.admin"):
        return recipient
    if not actor:
        raise PermissionDenied(f"role {role} without an actor cannot list notifications")
    if recipient and recipient != actor:
        raise PermissionDenied(
            f"key {actor!r} (role {role}) may list only its own notifications, not {recipient!r}'s"
        )
    return actor
