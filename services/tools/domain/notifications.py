"""Notifications: channels, the webhook signature, and the delivery outcome as plain values."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

CHANNELS = ("in_app", "webhook")
SIGNATURE_HEADER = "X-Labs-Signature"
TIMESTAMP_HEADER = "X-Labs-Timestamp"
NOTIFICATION_ID_HEADER = "X-Labs-Notification-Id"
ATTEMPT_HEADER = "X-Labs-Delivery-Attempt"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256 over `<timestamp>.<raw body>`.

    The timestamp is inside the signed content so a captured request cannot be replayed later
    with a fresh timestamp; receivers reject timestamps outside their tolerance.
    """
    mac = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """Whether `signature` is the valid signature of `body` at `timestamp` (constant time)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


@dataclass(frozen=True, slots=True)
class Delivery:
    """How a webhook delivery went, all attempts included."""

    delivered: bool
    attempts: int
    status_code: int
    error: str
    duration_us: int
