"""Field constraints declared in the protos (`(labs.api.v1.rules)`), checked at the edge.

Each request type is compiled once at start-up into a list of checks; a type with no rules
anywhere inside compiles to None and costs nothing per request. Every violation is reported.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from labs.api.v1 import routing_pb2

from labs_core import grpcutil
from services.gateway.transcoding import errors

_RULES: Any = routing_pb2.rules
Violation = tuple[str, str]
Check = Callable[[Message, str, list[Violation]], None]


def _rules(fd: FieldDescriptor) -> routing_pb2.FieldRules | None:
    opts = fd.GetOptions()
    return opts.Extensions[_RULES] if opts.HasExtension(_RULES) else None


def _field_check(fd: FieldDescriptor, r: routing_pb2.FieldRules) -> Check:
    name, label = fd.name, fd.json_name
    repeated = fd.is_repeated
    is_msg = fd.message_type is not None and not repeated
    is_str = fd.type == fd.TYPE_STRING
    pattern = re.compile(r.pattern) if r.pattern else None
    gte = r.gte if r.HasField("gte") else None
    lte = r.lte if r.HasField("lte") else None
    min_len, max_len, required = r.min_len, r.max_len, r.required

    def check(msg: Message, prefix: str, out: list[Violation]) -> None:
        path = prefix + label
        if is_msg:
            if required and not msg.HasField(name):
                out.append((path, "is required"))
            return
        value = getattr(msg, name)
        if required and not value:
            out.append((path, "is required"))
            return
        if repeated or is_str:
            n = len(value)
            if min_len and 0 < n < min_len:
                out.append((path, f"must have at least {min_len} {'items' if repeated else 'characters'}"))
            if max_len and n > max_len:
                out.append((path, f"must have at most {max_len} {'items' if repeated else 'characters'}"))
            if pattern is not None and is_str and value and not pattern.fullmatch(value):
                out.append((path, f"must match {pattern.pattern}"))
            return
        if gte is not None and value < gte:
            out.append((path, f"must be >= {gte:g}"))
        if lte is not None and value > lte:
            out.append((path, f"must be <= {lte:g}"))

    return check


def _nested_check(fd: FieldDescriptor, inner: Check) -> Check:
    name, label = fd.name, fd.json_name
    if fd.is_repeated:

        def each(msg: Message, prefix: str, out: list[Violation]) -> None:
            for i, item in enumerate(getattr(msg, name)):
                inner(item, f"{prefix}{label}[{i}].", out)

        return each

    def one(msg: Message, prefix: str, out: list[Violation]) -> None:
        if msg.HasField(name):
            inner(getattr(msg, name), f"{prefix}{label}.", out)

    return one


def compile_checks(desc: Descriptor, _seen: frozenset[str] = frozenset()) -> Check | None:
    """The checks of a message type, or None if neither it nor its fields have rules."""
    if desc.full_name in _seen:
        return None
    seen = _seen | {desc.full_name}
    checks: list[Check] = []
    for fd in desc.fields:
        r = _rules(fd)
        if r is not None:
            checks.append(_field_check(fd, r))
        if fd.message_type is not None and not fd.message_type.GetOptions().map_entry:
            inner = compile_checks(fd.message_type, seen)
            if inner is not None:
                checks.append(_nested_check(fd, inner))
    if not checks:
        return None

    def run(msg: Message, prefix: str, out: list[Violation]) -> None:
        for c in checks:
            c(msg, prefix, out)

    return run


class Validator:
    """Validates one request type; `validate` raises INVALID_ARGUMENT listing every violation."""

    __slots__ = ("_check",)

    def __init__(self, desc: Descriptor) -> None:
        self._check = compile_checks(desc)

    @property
    def active(self) -> bool:
        """Whether the type has any rule."""
        return self._check is not None

    def validate(self, msg: Message) -> None:
        """Raise a GatewayError naming every violated field."""
        if self._check is None:
            return
        out: list[Violation] = []
        self._check(msg, "", out)
        if out:
            raise invalid_request(out)


def invalid_request(violations: list[Violation]) -> errors.GatewayError:
    """INVALID_ARGUMENT with a google.rpc.BadRequest listing each violation."""
    import grpc

    br = grpcutil.bad_request("", "", violations)
    summary = "; ".join(f"{f} {d}" for f, d in violations)
    return errors.GatewayError(grpc.StatusCode.INVALID_ARGUMENT, f"invalid request: {summary}", details=[br])
