"""Binding an HTTP request into its request message: path variables, query parameters, body.

Everything that needs reflection (field lookups, converters, accepted query keys) is resolved
once per route at start-up; binding a request is dictionary look-ups and setattr calls.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message
from multidict import MultiMapping

from services.gateway.transcoding import errors
from services.gateway.transcoding.path_template import PathTemplate, TemplateError, Variable

Converter = Callable[[str], Any]
Apply = Callable[[Any, Sequence[str]], None]

# Message types written as one JSON string, so one query or path value.
_STRING_WKT = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_WRAPPERS = {
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
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

_INT_TYPES = {
    FieldDescriptor.CPPTYPE_INT32,
    FieldDescriptor.CPPTYPE_INT64,
    FieldDescriptor.CPPTYPE_UINT32,
    FieldDescriptor.CPPTYPE_UINT64,
}
_UNSIGNED = {FieldDescriptor.CPPTYPE_UINT32, FieldDescriptor.CPPTYPE_UINT64}
_FLOAT_TYPES = {FieldDescriptor.CPPTYPE_FLOAT, FieldDescriptor.CPPTYPE_DOUBLE}


def _to_int(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:
        raise ValueError(f"expected an integer, got {text!r}") from None


def _to_uint(text: str) -> int:
    n = _to_int(text)
    if n < 0:
        raise ValueError(f"expected a non-negative integer, got {text!r}")
    return n


def _to_float(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"expected a number, got {text!r}") from None


_BOOLS = {"true": True, "false": False, "1": True, "0": False}


def _to_bool(text: str) -> bool:
    b = _BOOLS.get(text.lower())
    if b is None:
        raise ValueError(f"expected true or false, got {text!r}")
    return b


def _to_bytes(text: str) -> bytes:
    padded = text + "=" * (-len(text) % 4)
    alt = b"-_" if ("-" in text or "_" in text) else None
    try:
        return base64.b64decode(padded, altchars=alt, validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"expected base64, got {text!r}") from None


def _to_enum(enum: EnumDescriptor) -> Converter:
    numbers = {v.name: v.number for v in enum.values}
    known = set(numbers.values())
    expected = ", ".join(numbers)
    closed = enum.is_closed

    def convert(text: str) -> int:
        n = numbers.get(text)
        if n is None:
            n = numbers.get(text.upper())
        if n is None:
            try:
                n = int(text, 10)
            except ValueError:
                raise ValueError(f"expected one of {expected} or a number, got {text!r}") from None
            if closed and n not in known:
                raise ValueError(f"{n} is not a value of {enum.full_name}")
        return n

    return convert


def _scalar_converter(fd: FieldDescriptor) -> Converter:
    cpp = fd.cpp_type
    if cpp == FieldDescriptor.CPPTYPE_STRING:
        return _to_bytes if fd.type == FieldDescriptor.TYPE_BYTES else str
    if cpp in _INT_TYPES:
        return _to_uint if cpp in _UNSIGNED else _to_int
    if cpp in _FLOAT_TYPES:
        return _to_float
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return _to_bool
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        assert fd.enum_type is not None
        return _to_enum(fd.enum_type)
    raise TemplateError(f"field {fd.full_name} cannot be bound from text")


def is_text_leaf(fd: FieldDescriptor) -> bool:
    """Whether a path or query value (a string) can set this field."""
    if fd.message_type is None:
        return True
    return fd.message_type.full_name in _STRING_WKT or fd.message_type.full_name in _WRAPPERS


def _one(values: Sequence[str]) -> str:
    if len(values) != 1:
        raise ValueError(f"expected one value, got {len(values)}")
    return values[0]


def _applier(fd: FieldDescriptor) -> Apply:
    name = fd.name
    repeated = fd.is_repeated
    mt = fd.message_type
    if mt is not None and mt.full_name in _STRING_WKT:
        if repeated:

            def apply_wkts(parent: Any, values: Sequence[str]) -> None:
                target = getattr(parent, name)
                for v in values:
                    target.add().FromJsonString(v)

            return apply_wkts
        return lambda parent, values: getattr(parent, name).FromJsonString(_one(values))
    if mt is not None:  # a wrapper: the converter of its `value` field
        inner = _scalar_converter(mt.fields_by_name["value"])
        if repeated:

            def apply_wrappers(parent: Any, values: Sequence[str]) -> None:
                target = getattr(parent, name)
                for v in values:
                    target.add().value = inner(v)

            return apply_wrappers
        return lambda parent, values: setattr(getattr(parent, name), "value", inner(_one(values)))
    convert = _scalar_converter(fd)
    if repeated:
        # Repeated non-text scalars also accept "a,b,c" (names and numbers have no commas).
        split = fd.cpp_type != FieldDescriptor.CPPTYPE_STRING

        def apply_repeated(parent: Any, values: Sequence[str]) -> None:
            items = [p for v in values for p in v.split(",")] if split else values
            getattr(parent, name).extend([convert(v) for v in items])

        return apply_repeated
    return lambda parent, values: setattr(parent, name, convert(_one(values)))


class FieldSetter:
    """Sets one (possibly nested) field of a request message from text values."""

    __slots__ = ("_apply", "_parents", "path")

    def __init__(self, path: Sequence[FieldDescriptor]) -> None:
        self.path = tuple(path)
        self._parents = tuple(fd.name for fd in path[:-1])
        self._apply = _applier(path[-1])

    def set(self, msg: Message, values: Sequence[str], label: str) -> None:
        """Convert and set; a value that does not fit is a 400 naming `label`."""
        parent: Any = msg
        for name in self._parents:
            parent = getattr(parent, name)
        try:
            self._apply(parent, values)
        except (ValueError, TypeError, OverflowError) as e:
            raise errors.invalid_field(label, str(e)) from None


def resolve_field_path(desc: Descriptor, dotted: Sequence[str]) -> list[FieldDescriptor]:
    """The field descriptors along a dotted path of proto (or JSON) names; TemplateError if absent."""
    out: list[FieldDescriptor] = []
    current: Descriptor | None = desc
    for i, part in enumerate(dotted):
        if current is None:
            raise TemplateError(f"{'.'.join(dotted[:i])} of {desc.full_name} is not a message")
        fd = current.fields_by_name.get(part) or current.fields_by_camelcase_name.get(part)
        if fd is None:
            raise TemplateError(f"{desc.full_name} has no field {'.'.join(dotted[: i + 1])}")
        if i < len(dotted) - 1 and fd.is_repeated:
            raise TemplateError(f"{desc.full_name}.{'.'.join(dotted[: i + 1])} is repeated")
        out.append(fd)
        current = fd.message_type
    return out


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

    __slots__ = ("_body", "_body_key", "_new", "_path", "_query")

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
