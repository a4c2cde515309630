"""Binding an HTTP request into its request message: path variables, query parameters, body.

Everything that needs reflection (field lookups, converters, accepted query keys) is resolved
once per route at start-up; binding a request is dictionary look-ups and setattr calls.
"""

from __future__ import annotations

import json
import re
from typing import cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from multidict import MultiMapping

from services.gateway.transcoding import errors
from services.gateway.transcoding.fastjson import BodyParser
from services.gateway.transcoding.fields import FieldSetter, is_text_leaf, resolve_field_path
from services.gateway.transcoding.path_template import PathTemplate, TemplateError, Variable

# Message types a query string cannot express.
_OPAQUE = {
    "google.protobuf.Struct",
    "google.protobuf.Value",
    "google.protobuf.ListValue",
    "google.protobuf.Any",
}
_MAX_QUERY_DEPTH = 4

_FIELD_IN_ERROR = (
    re.compile(r'has no field named "(?P<f>[^"]+)"'),
    re.compile(r"Failed to parse (?P<f>[\w.]+) field"),
)


class QueryBinder:
    """Binds query parameters to the fields not bound by the path or the body.

    Keys are field paths in lowerCamelCase or snake_case (`pageSize`, `page_size`,
    `filter.start_time`); repeated fields take repeated keys; an unknown key is a 400.
    """

    __slots__ = ("_by_key",)

    def __init__(self, desc: Descriptor, skip: set[tuple[str, ...]]) -> None:
        self._by_key: dict[str, FieldSetter] = {}
        self._walk(desc, (), ("",), skip, {desc.full_name})

    def _walk(
        self,
        desc: Descriptor,
        path: tuple[FieldDescriptor, ...],
        prefixes: tuple[str, ...],
        skip: set[tuple[str, ...]],
        seen: set[str],
    ) -> None:
        for fd in desc.fields:
            fpath = (*path, fd)
            if tuple(f.name for f in fpath) in skip:
                continue
            keys = tuple(
                dict.fromkeys(f"{p}.{n}" if p else n for p in prefixes for n in (fd.name, fd.json_name))
            )
            mt = fd.message_type
            if mt is not None and mt.GetOptions().map_entry:
                continue
            if is_text_leaf(fd):
                setter = FieldSetter(fpath)
                for k in keys:
                    self._by_key.setdefault(k, setter)
            elif (
                not fd.is_repeated
                and mt is not None
                and mt.full_name not in _OPAQUE
                and mt.full_name not in seen
                and len(fpath) < _MAX_QUERY_DEPTH
            ):
                self._walk(mt, fpath, keys, skip, seen | {mt.full_name})

    @property
    def keys(self) -> frozenset[str]:
        """Every accepted query key."""
        return frozenset(self._by_key)

    def bind(self, msg: Message, query: MultiMapping[str]) -> None:
        """Set the fields named by the query string."""
        grouped: dict[str, list[str]] = {}
        for key, value in query.items():
            grouped.setdefault(key, []).append(value)
        for key, values in grouped.items():
            setter = self._by_key.get(key)
            if setter is None:
                raise errors.invalid_field(key, "unknown query parameter")
            setter.set(msg, values, key)


class RequestBinder:
    """Builds a route's request message from the path segments, the query string and the body."""

    __slots__ = ("_body", "_body_key", "_fast", "_new", "_path", "_query")

    def __init__(self, message_class: type[Message], template: PathTemplate, body: str) -> None:
        desc = cast(Descriptor, message_class.DESCRIPTOR)
        self._new = message_class
        self._path: list[tuple[Variable, FieldSetter]] = []
        for var in template.variables:
            fds = resolve_field_path(desc, var.field_path)
            if fds[-1].is_repeated or not is_text_leaf(fds[-1]):
                raise TemplateError(
                    f"path variable {var.name} of {template.source} must be a singular scalar"
                )
            self._path.append((var, FieldSetter(fds)))
        self._body = body
        self._body_key = ""
        skip = {tuple(f.name for f in resolve_field_path(desc, v.field_path)) for v in template.variables}
        if body and body != "*":
            fd = resolve_field_path(desc, [body])[0]
            self._body_key = fd.json_name
            skip.add((fd.name,))
        self._query = QueryBinder(desc, skip) if body != "*" else None
        self._fast = BodyParser()
        self._fast.compile(desc)

    @property
    def reads_body(self) -> bool:
        """Whether the rule binds the request body."""
        return bool(self._body)

    def bind(self, segments: list[str], query: MultiMapping[str], body: bytes) -> Message:
        """The request message; errors.GatewayError (400) names what does not fit."""
        msg = self._new()
        if self._body and body and not body.isspace():
            self._bind_body(msg, body)
        for var, setter in self._path:
            setter.set(msg, (var.value(segments),), var.name)
        if query and self._query is not None:
            self._query.bind(msg, query)
        return msg

    def _bind_body(self, msg: Message, body: bytes) -> None:
        try:
            obj = json.loads(body)
        except UnicodeDecodeError as e:
            raise errors.invalid_body(f"not UTF-8: {e.reason} at byte {e.start}") from None
        except json.JSONDecodeError as e:
            raise errors.invalid_body(
                f"malformed JSON: {e.msg} at line {e.lineno} column {e.colno} (char {e.pos})"
            ) from None
        except RecursionError:
            raise errors.invalid_body("malformed JSON: nested too deeply") from None
        if self._body == "*":
            if not isinstance(obj, dict):
                raise errors.invalid_body(
                    f"expected a JSON object for {msg.DESCRIPTOR.name}, got {type(obj).__name__}"
                )
        else:
            obj = {self._body_key: obj}
        if self._fast.parse(obj, msg):  # exactly ParseDict's message, for the common shapes
            return
        msg.Clear()  # the fast path may have filled part of it: ParseDict decides from scratch
        try:
            json_format.ParseDict(obj, msg, ignore_unknown_fields=False)
        except json_format.ParseError as e:
            text = str(e).split("\n", 1)[0]
            raise errors.invalid_body(text, field=_field_named(text)) from None


def _field_named(message: str) -> str:
    for pattern in _FIELD_IN_ERROR:
        m = pattern.search(message)
        if m:
            return m.group("f")
    return ""
