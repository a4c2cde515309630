"""Setting protobuf fields from text (path and query values): converters resolved at start-up."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from services.gateway.transcoding import errors
from services.gateway.transcoding.path_template import TemplateError

Converter = Callable[[str], Any]
Apply = Callable[[Any, Sequence[str]], None]

# Message types written as one JSON string, so one query or path value.
STRING_WKT = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
WRAPPERS = {
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
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
    return fd.message_type.full_name in STRING_WKT or fd.message_type.full_name in WRAPPERS


def _one(values: Sequence[str]) -> str:
    if len(values) != 1:
        raise ValueError(f"expected one value, got {len(values)}")
    return values[0]


def _applier(fd: FieldDescriptor) -> Apply:
    name = fd.name
    repeated = fd.is_repeated
    mt = fd.message_type
    if mt is not None and mt.full_name in STRING_WKT:
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
