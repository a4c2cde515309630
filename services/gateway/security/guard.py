"""The guard in front of every forwarded call: who is calling, may they, and not too often."""

from __future__ import annotations

import logging

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2

from labs_core.auth import INTERNAL_PREFIX, Identity, InternalAuth, MethodPolicy
from services.gateway.security.keys import KeyStore, Principal
from services.gateway.security.ratelimit import RateLimiter, retry_after_header
from services.gateway.transcoding import errors

log = logging.getLogger(__name__)

__all__ = ["ANONYMOUS", "INTERNAL_PREFIX", "Guard"]

# The backends learn the caller from x-labs-* metadata the gateway sets; a client's own are dropped.
ANONYMOUS = Principal("anonymous", "admin")
_CHALLENGE = 'Bearer realm="labs"'


class Guard:
    """Authenticates a call's key, checks its permission, and charges its rate limit."""

    __slots__ = ("_internal", "_keys", "_limiter", "enabled")

    def __init__(
        self, keys: KeyStore, limiter: RateLimiter, internal: InternalAuth, *, enabled: bool = True
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._internal = internal
        self.enabled = enabled

    def authenticate(self, policy: MethodPolicy, authorization: str | None) -> Principal | None:
        """The caller (None for a public method called without a key); GatewayError otherwise."""
        if not self.enabled:
            return ANONYMOUS
        if authorization is None:
            if policy.public:
                return None
            raise errors.GatewayError(
                grpc.StatusCode.UNAUTHENTICATED,
                "an API key is required: send 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": _CHALLENGE},
                details=[errors.error_info("API_KEY_MISSING")],
            )
        scheme, _, key = authorization.partition(" ")
        principal = self._keys.lookup(key.strip()) if scheme.lower() == "bearer" else None
        if principal is None:
            if policy.public:
                return None
            raise errors.GatewayError(
                grpc.StatusCode.UNAUTHENTICATED,
                "invalid API key" if scheme.lower() == "bearer" else "expected 'Authorization: Bearer <key>'",
                headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'},
                details=[errors.error_info("API_KEY_INVALID")],
            )
        return principal

    def authorize(self, policy: MethodPolicy, principal: Principal | None, request: Message | None) -> None:
        """PERMISSION_DENIED naming the missing permission, or RESOURCE_EXHAUSTED over the rate."""
        if principal is None or not self.enabled:
            return
        missing = policy.missing(principal.role, request)
        if missing is not None:
            raise errors.GatewayError(
                grpc.StatusCode.PERMISSION_DENIED,
                f"key {principal.name!r} (role {principal.role}) lacks the permission {missing!r} "
                f"needed by {policy.method}",
                details=[errors.error_info("PERMISSION_DENIED", permission=missing, role=principal.role)],
            )
        wait = self._limiter.acquire(principal.name, principal.role)
        if wait > 0:
            retry = retry_after_header(wait)
            info = error_details_pb2.RetryInfo()
            info.retry_delay.FromMilliseconds(int(wait * 1000) + 1)
            raise errors.GatewayError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"rate limit of key {principal.name!r} exceeded; retry in {retry}s",
                headers={"Retry-After": retry},
                details=[info, errors.error_info("RATE_LIMITED", role=principal.role)],
            )

    def metadata(self, principal: Principal | None) -> list[tuple[str, str]]:
        """What a forwarded call carries: the services' secret and the caller the key proved."""
        return self._internal.metadata(
            None if principal is None else Identity(principal.name, principal.role)
        )
