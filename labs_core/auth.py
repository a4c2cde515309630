"""Who is calling, and may they: the one role table, the caller's identity, internal authentication.

Every service decides by this module alone:
- `ROLE_PERMISSIONS` is the only table of what a role grants; each RPC's required permission is
  its `(labs.api.v1.permission)` proto option (`policy_of`), so a new RPC is closed until
  annotated, at the gateway and at the backend alike.
- An `Identity` (actor, role) travels with every internal call as `x-labs-actor` /
  `x-labs-role`, next to the shared secret `x-labs-internal-token` (LABS_INTERNAL_TOKEN).
  A backend's `ServerAuth` interceptor refuses a call without the secret (UNAUTHENTICATED),
  believes the identity only from a caller that has it, checks the RPC's permission against the
  role (PERMISSION_DENIED), and exposes the identity to the handler through `caller()`.
- `client_interceptors` attach the secret and the current identity (`acting_as`, or the one a server
  handler was called with) to every call of an internal channel, so identity follows a request
  from the gateway through runtime, worker, tools and llm without each call site passing it.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hmac
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf import descriptor_pool
from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from labs.api.v1 import routing_pb2

from labs_core.ids import lookalike

log = logging.getLogger(__name__)

# ---- the role table ------------------------------------------------------------------------

ROLES = ("viewer", "operator", "admin")
PUBLIC = "public"
# What a method with no `(labs.api.v1.permission)` needs: only admin has it (closed by default).
UNCLASSIFIED = "unclassified"

# notifications.read is every role's: the tools service scopes a non-admin to its own inbox.
_VIEWER = frozenset(
    {
        "executions.read",
        "metrics.read",
        "agents.read",
        "tools.read",
        "events.read",
        "llm.read",
        "notifications.read",
    }
)
_OPERATOR = _VIEWER | {"executions.write", "tools.invoke", "llm.generate"}
#: Role -> granted permissions; each role has what the one before it has. admin holds every
#: permission, including ones a newer proto introduces (checked as a wildcard): among them
#: executions.admin (run, cancel or schedule ADMIN executions, act as the ADMIN agent),
#: tools.admin (system tools: health, notifications, bulk changes, SQL) and
#: notifications.admin (read anyone's notifications).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": _VIEWER,
    "operator": frozenset(_OPERATOR),
    "admin": frozenset({"*"}),
}


def granted(role: str, permission: str) -> bool:
    """Whether a role has a permission (an unknown or empty role has none but `public`)."""
    if permission == PUBLIC:
        return True
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    return permission in perms or "*" in perms


# ---- what each RPC needs (its proto options) -----------------------------------------------

_PERMISSION: Any = routing_pb2.permission
_RULES: Any = routing_pb2.permission_rules


@dataclass(frozen=True, slots=True)
class ContentRule:
    """Needs `permission` when the request's string `field` could be one of `values`: compared
    after every folding a backend might apply (`labs_core.ids.lookalike`), so " ADMIN", "admin\\t"
    or a full-width spelling needs the permission as "ADMIN" does (the backend then refuses the
    non-canonical spelling itself)."""

    field: str
    values: frozenset[str]
    permission: str


@dataclass(frozen=True, slots=True)
class MethodPolicy:
    """The permission one RPC needs, and stronger ones its request's content may ask for."""

    method: str
    permission: str
    rules: tuple[ContentRule, ...] = ()

    @property
    def public(self) -> bool:
        """Open to callers without a key."""
        return self.permission == PUBLIC

    def missing(self, role: str, request: Message | None) -> str | None:
        """The first permission the role lacks for this call (None: allowed)."""
        if not granted(role, self.permission):
            return self.permission
        if request is not None:
            for rule in self.rules:
                value = getattr(request, rule.field, "")
                if (
                    isinstance(value, str)
                    and lookalike(value) in rule.values
                    and not granted(role, rule.permission)
                ):
                    return rule.permission
        return None


def policy_of(method: MethodDescriptor) -> MethodPolicy:
    """Read a method's permission options."""
    opts = method.GetOptions()
    perm = str(opts.Extensions[_PERMISSION]) if opts.HasExtension(_PERMISSION) else ""
    if not perm:
        log.warning("%s has no (labs.api.v1.permission): admin only", method.full_name)
        perm = UNCLASSIFIED
    rules = []
    for r in opts.Extensions[_RULES]:
        fd = method.input_type.fields_by_name.get(r.field)
        if fd is None or fd.type != fd.TYPE_STRING or fd.is_repeated:
            raise ValueError(f"{method.full_name}: permission_rules field {r.field!r} is not a string field")
        rules.append(ContentRule(r.field, frozenset(lookalike(v) for v in r.values), r.permission))
    return MethodPolicy(method.full_name, perm, tuple(rules))


@functools.lru_cache(maxsize=256)
def policy_by_name(full_name: str) -> MethodPolicy:
    """The policy of a method by its full name (`pkg.Service.Method`); unknown: admin only."""
    try:
        method = descriptor_pool.Default().FindMethodByName(full_name)
    except KeyError:
        return MethodPolicy(full_name, UNCLASSIFIED)
    return policy_of(method)


_EXECUTE = "labs.agents.v1.AgentService.Execute"


def may_run(role: str, agent_type: str) -> str | None:
    """The permission `role` lacks to run (or act as) an agent of `agent_type`, as Execute's own
    policy says; None when it may. The one answer to "may this caller act as ADMIN?"."""
    from labs.agents.v1 import agent_service_pb2

    return policy_by_name(_EXECUTE).missing(role, agent_service_pb2.ExecuteRequest(type=agent_type))


# ---- the caller ----------------------------------------------------------------------------

ACTOR_KEY = "x-labs-actor"
ROLE_KEY = "x-labs-role"
TOKEN_KEY = "x-labs-internal-token"
#: Metadata only the system sets: the gateway drops a client's own.
INTERNAL_PREFIX = "x-labs-"
#: The suffix of the actor of what a schedule does: its creator, "via scheduler".
VIA_SCHEDULER = " via scheduler"


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a call is made by: the actor recorded on what it causes, and the role it holds."""

    actor: str
    role: str

    def via_scheduler(self) -> Identity:
        """The identity a schedule's occurrences run with: its creator's, recorded as such."""
        if self.actor.endswith(VIA_SCHEDULER):
            return self
        return Identity(self.actor + VIA_SCHEDULER, self.role)


_caller: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("labs_caller", default=None)


def caller() -> Identity | None:
    """The identity the current call is made by (None outside any authenticated call)."""
    return _caller.get()


@contextlib.contextmanager
def acting_as(identity: Identity | None) -> Iterator[None]:
    """Make the calls inside (and the tasks they start) carry `identity`."""
    token = _caller.set(identity)
    try:
        yield
    finally:
        _caller.reset(token)


class AuthConfigError(ValueError):
    """LABS_INTERNAL_TOKEN is missing or too weak; the message names it."""


#: Shortest accepted secret: a guessable one would make the check decorative.
MIN_TOKEN_CHARS = 16
_EXEMPT_SERVICES = frozenset({"grpc.health.v1.Health"})  # probes carry no metadata
_NO_IDENTITY_SERVICES = frozenset(
    {"grpc.reflection.v1alpha.ServerReflection", "grpc.reflection.v1.ServerReflection"}
)


class InternalAuth:
    """The shared secret of the services: attaches it to internal calls and verifies it."""

    __slots__ = ("_token", "_token_bytes")

    def __init__(self, token: str) -> None:
        if not token:
            raise AuthConfigError(
                "LABS_INTERNAL_TOKEN is not set: the services authenticate each other with it "
                "(the same random secret, at least 16 characters, in every service's environment)"
            )
        if len(token) < MIN_TOKEN_CHARS or not token.isprintable() or not token.isascii():
            raise AuthConfigError(
                f"LABS_INTERNAL_TOKEN must be at least {MIN_TOKEN_CHARS} printable ASCII characters"
            )
        self._token = token
        self._token_bytes = token.encode()

    def __repr__(self) -> str:
        return "InternalAuth(<secret>)"

    def accepts(self, presented: str | bytes | None) -> bool:
        """Whether `presented` is the secret (constant-time)."""
        if presented is None:
            return False
        raw = presented.encode() if isinstance(presented, str) else presented
        return hmac.compare_digest(raw, self._token_bytes)

    def metadata(self, identity: Identity | None) -> list[tuple[str, str]]:
        """What an internal call carries: the secret and, when there is one, the caller."""
        md = [(TOKEN_KEY, self._token)]
        if identity is not None:
            md += [(ACTOR_KEY, identity.actor), (ROLE_KEY, identity.role)]
        return md

    def server_interceptor(self) -> ServerAuth:
        """The interceptor a backend's gRPC server installs."""
        return ServerAuth(self)

    def client_interceptors(self, identity: Identity | None = None) -> list[Any]:
        """The interceptors an internal channel installs; its calls carry `identity`, or else the
        current caller (`caller()`), unless a call names its own."""
        return [cls(self, identity) for cls in (_UnaryUnary, _UnaryStream, _StreamUnary, _StreamStream)]


def channel_as(addr: str, identity: Identity | None, internal: InternalAuth) -> grpc.aio.Channel:
    """A plain channel to one of our services whose calls carry the secret and `identity`
    (a tool such as a benchmark or a test calling a backend directly)."""
    return grpc.aio.insecure_channel(addr, interceptors=internal.client_interceptors(identity))


def env_auth() -> InternalAuth:
    """The secret from LABS_INTERNAL_TOKEN, for a tool run beside the services (bench, scripts)."""
    import os

    return InternalAuth(os.environ.get("LABS_INTERNAL_TOKEN", ""))


#: The identity benchmarks and operational scripts call backends as.
TOOLING = Identity("tooling", "admin")


# ---- server side ---------------------------------------------------------------------------


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    """A handler of the same shape that ends the call with `code` (the request is never parsed)."""

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        await context.abort(code, message)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        await context.abort(code, message)
        yield  # pragma: no cover - abort raises

    ser = handler.response_serializer
    if handler.unary_unary:
        return grpc.unary_unary_rpc_method_handler(unary, None, ser)
    if handler.unary_stream:
        return grpc.unary_stream_rpc_method_handler(streaming, None, ser)
    if handler.stream_unary:
        return grpc.stream_unary_rpc_method_handler(unary, None, ser)
    return grpc.stream_stream_rpc_method_handler(streaming, None, ser)


def _denied(identity: Identity, missing: str, method: str) -> str:
    return f"{identity.actor or 'caller'} (role {identity.role or 'none'}) lacks the permission {missing!r} needed by {method}"


def _content_checked(
    handler: grpc.RpcMethodHandler, policy: MethodPolicy, identity: Identity
) -> grpc.RpcMethodHandler:
    """The handler with the policy's content rules checked on the parsed request first."""
    de, ser = handler.request_deserializer, handler.response_serializer

    async def check(request: Any, context: grpc.aio.ServicerContext) -> None:
        missing = policy.missing(identity.role, request)
        if missing is not None:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, _denied(identity, missing, policy.method))

    if handler.unary_unary:
        inner_uu: Callable[..., Awaitable[Any]] = handler.unary_unary

        async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
            await check(request, context)
            return await inner_uu(request, context)

        return grpc.unary_unary_rpc_method_handler(unary, de, ser)
    if handler.unary_stream:
        inner_us: Callable[..., AsyncIterator[Any]] = handler.unary_stream

        async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            await check(request, context)
            async for item in inner_us(request, context):
                yield item

        return grpc.unary_stream_rpc_method_handler(streaming, de, ser)
    return handler  # client streaming: no content rule can name a field of a stream


class ServerAuth(grpc.aio.ServerInterceptor):
    """Refuses callers without the secret, checks the RPC's permission, exposes the caller."""

    def __init__(self, auth: InternalAuth) -> None:
        self.auth = auth

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(details)
        if handler is None:
            return handler
        path = details.method
        service, _, name = path[1:].partition("/")
        if service in _EXEMPT_SERVICES:
            return handler
        given: dict[str, list[str | bytes]] = {TOKEN_KEY: [], ACTOR_KEY: [], ROLE_KEY: []}
        for key, value in details.invocation_metadata or ():
            if key in given:
                given[key].append(value)
        # Each at most once: a second value (one a client smuggled past a proxy) is never chosen.
        if any(len(values) > 1 for values in given.values()):
            return _refusal(
                handler, grpc.StatusCode.UNAUTHENTICATED, "x-labs-* metadata given more than once"
            )
        token = given[TOKEN_KEY][0] if given[TOKEN_KEY] else None
        actor = _text(given[ACTOR_KEY][0]) if given[ACTOR_KEY] else ""
        role = _text(given[ROLE_KEY][0]) if given[ROLE_KEY] else ""
        if not self.auth.accepts(token):
            return _refusal(
                handler,
                grpc.StatusCode.UNAUTHENTICATED,
                f"{service}/{name} is internal: the caller did not present the services' shared secret",
            )
        identity = Identity(actor, role) if role else None
        # Each RPC runs in a task of its own, so the identity set here is this call's alone.
        _caller.set(identity)
        if service in _NO_IDENTITY_SERVICES:
            return handler
        policy = policy_by_name(f"{service}.{name}")
        if policy.public:
            return handler
        if identity is None:
            return _refusal(
                handler,
                grpc.StatusCode.PERMISSION_DENIED,
                f"{policy.method} needs {policy.permission!r}: the call carries no caller role",
            )
        missing = policy.missing(role, None)
        if missing is not None:
            return _refusal(
                handler, grpc.StatusCode.PERMISSION_DENIED, _denied(identity, missing, policy.method)
            )
        return _content_checked(handler, policy, identity) if policy.rules else handler


# ---- client side ---------------------------------------------------------------------------


class _ClientAuth:
    """Adds the secret, and the caller unless the call names one, to every call."""

    def __init__(self, auth: InternalAuth, identity: Identity | None = None) -> None:
        self.auth = auth
        self.identity = identity

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        md = [(k, v) for k, v in (details.metadata or ()) if k != TOKEN_KEY]
        named = any(k == ROLE_KEY for k, _ in md)
        extra = self.auth.metadata(None if named else (self.identity or _caller.get()))
        return grpc.aio.ClientCallDetails(
            details.method,
            details.timeout,
            grpc.aio.Metadata(*md, *extra),
            details.credentials,
            details.wait_for_ready,
        )


# One class per call shape: a grpc.aio channel files an interceptor under the first shape it has.
class _UnaryUnary(_ClientAuth, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _UnaryStream(_ClientAuth, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamUnary(_ClientAuth, grpc.aio.StreamUnaryClientInterceptor):
    async def intercept_stream_unary(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)


class _StreamStream(_ClientAuth, grpc.aio.StreamStreamClientInterceptor):
    async def intercept_stream_stream(self, continuation: Any, details: Any, request_iterator: Any) -> Any:
        return await continuation(self._details(details), request_iterator)
