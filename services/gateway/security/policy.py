"""Permissions: what each RPC needs (from its proto options) and what each role grants."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from google.protobuf.descriptor import MethodDescriptor
from google.protobuf.message import Message
from labs.api.v1 import routing_pb2

from labs_core.ids import lookalike

log = logging.getLogger(__name__)

PUBLIC = "public"
# What a method with no `(labs.api.v1.permission)` needs: only admin has it (closed by default).
UNCLASSIFIED = "unclassified"

# Role -> granted permissions; each role has what the one before it has.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {}
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
ROLE_PERMISSIONS["viewer"] = _VIEWER
ROLE_PERMISSIONS["operator"] = frozenset(_OPERATOR)
# admin: every permission, including ones a newer proto introduces (checked as a wildcard).
ROLE_PERMISSIONS["admin"] = frozenset({"*"})

_PERMISSION: Any = routing_pb2.permission
_RULES: Any = routing_pb2.permission_rules


def granted(role: str, permission: str) -> bool:
    """Whether a role has a permission."""
    if permission == PUBLIC:
        return True
    perms = ROLE_PERMISSIONS.get(role, frozenset())
    return permission in perms or "*" in perms


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
