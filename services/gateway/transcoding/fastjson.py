"""proto3 JSON without json_format's per-call reflection: converters compiled once per message type.

Both directions give exactly what `json_format` gives (a differential test checks it field type
by field type); whatever they do not cover, they hand back to `json_format`:
- `Printer.to_dict(msg)` == `MessageToDict(msg, always_print_fields_with_no_presence=True)`;
  Any and the wrapper types are printed by json_format, and any error is re-raised by it.
- `BodyParser.parse(obj, msg)` fills `msg` as `ParseDict(obj, msg)` would, or returns False
  (the message may then be half-filled: use a fresh one) and the caller runs ParseDict, whose
  errors are the ones clients get. It covers the common shapes: strings, bools, integers, doubles,
  enums by name, Struct/Value/ListValue, nested messages; not oneofs, repeated, maps, nulls,
  int64 given as strings, non-ASCII strings (ParseDict's surrogate check), float32.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Callable
from typing import Any, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.internal import type_checkers
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass

FD = FieldDescriptor
_INT64 = {FD.CPPTYPE_INT64, FD.CPPTYPE_UINT64}
_INT32 = {FD.CPPTYPE_INT32, FD.CPPTYPE_UINT32}
_STRING_WKT = {"google.protobuf.Timestamp", "google.protobuf.Duration", "google.protobuf.FieldMask"}
_DELEGATED = {"google.protobuf.Any"} | {
    f"google.protobuf.{n}Value"
    for n in ("Double", "Float", "Int64", "UInt64", "Int32", "UInt32", "Bool", "String", "Bytes")
}
_MAX_DEPTH = 100  # json_format's max_recursion_depth

Convert = Callable[[Any], Any]


def _delegate(msg: Message) -> Any:
    return json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)


# --- printing --------------------------------------------------------------------------------


def _double(value: float) -> Any:
    if math.isinf(value):
        return "-Infinity" if value < 0.0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return value


def _float(value: float) -> Any:
    if math.isinf(value):
        return "-Infinity" if value < 0.0 else "Infinity"
    if math.isnan(value):
        return "NaN"
    return type_checkers.ToShortestFloat(value)


def _bytes(value: bytes) -> str:
    return base64.b64encode(value).decode("utf-8")


def _value(msg: Any) -> Any:
    which = msg.WhichOneof("kind")
    if which is None or which == "null_value":
        return None
    if which == "struct_value":
        return _struct(msg.struct_value)
    if which == "list_value":
        return [_value(v) for v in msg.list_value.values]
    if which == "number_value":
        value = msg.number_value
        if math.isinf(value) or math.isnan(value):
            raise ValueError("Infinity or NaN in Value.number_value")
        return value
    if which == "string_value":
        return msg.string_value
    return bool(msg.bool_value)


def _struct(msg: Any) -> dict[str, Any]:
    fields = msg.fields
    return {key: _value(fields[key]) for key in fields}


def _list_value(msg: Any) -> list[Any]:
    return [_value(v) for v in msg.values]


def _string_wkt(msg: Any) -> Any:
    return msg.ToJsonString()


_WKT_PRINTERS: dict[str, Convert] = {
    "google.protobuf.Struct": _struct,
    "google.protobuf.Value": _value,
    "google.protobuf.ListValue": _list_value,
    **dict.fromkeys(_STRING_WKT, _string_wkt),
}


class Printer:
    """proto3 JSON objects of messages, fields without presence printed (as the gateway renders)."""

    def __init__(self) -> None:
        self._compiled: dict[str, Convert] = {}

    def to_dict(self, msg: Message) -> Any:
        """`MessageToDict(msg, always_print_fields_with_no_presence=True)`, faster."""
        desc = cast(Descriptor, msg.DESCRIPTOR)
        convert = self._compiled.get(desc.full_name) or self.compile(desc)
        try:
            return convert(msg)
        except Exception:  # json_format raises its own error for the same message
            return _delegate(msg)

    def compile(self, desc: Descriptor) -> Convert:
        """The converter of one message type (cached; recursive types supported)."""
        name = desc.full_name
        if name in self._compiled:
            return self._compiled[name]
        if name in _WKT_PRINTERS:
            self._compiled[name] = _WKT_PRINTERS[name]
            return _WKT_PRINTERS[name]
        if name in _DELEGATED or desc.GetOptions().map_entry:
            self._compiled[name] = _delegate
            return _delegate
        table: dict[int, tuple[str, Convert | None]] = {}
        defaults: list[tuple[str, Any]] = []  # (json name, value or a factory of [] / {})

        def convert(msg: Any) -> dict[str, Any]:
            js: dict[str, Any] = {}
            for fd, value in msg.ListFields():
                json_name, conv = table[fd.number]  # an extension: KeyError, json_format prints it
                js[json_name] = value if conv is None else conv(value)
            for json_name, default in defaults:
                if json_name not in js:
                    js[json_name] = default() if callable(default) else default
            return js

        self._compiled[name] = convert  # before the fields: a recursive type finds itself
        printed_defaults = _delegate(GetMessageClass(desc)())  # json_format's own defaults
        for fd in desc.fields:
            table[fd.number] = (fd.json_name, self._field(fd))
            if fd.has_presence:
                continue
            if _is_map(fd):
                defaults.append((fd.json_name, dict))
            elif fd.is_repeated:
                defaults.append((fd.json_name, list))
            else:
                defaults.append((fd.json_name, printed_defaults[fd.json_name]))
        return convert

    def _field(self, fd: FieldDescriptor) -> Convert | None:
        if _is_map(fd):
            assert fd.message_type is not None
            vconv = self._single(fd.message_type.fields_by_name["value"])

            def convert_map(value: Any) -> dict[str, Any]:
                out = {}
                for key in value:
                    k = ("true" if key else "false") if isinstance(key, bool) else str(key)
                    out[k] = value[key] if vconv is None else vconv(value[key])
                return out

            return convert_map
        conv = self._single(fd)
        if fd.is_repeated:
            if conv is None:
                return list
            c = conv
            return lambda value: [c(v) for v in value]
        return conv

    def _single(self, fd: FieldDescriptor) -> Convert | None:
        """The converter of one value of the field; None: the value as it is."""
        cpp = fd.cpp_type
        if cpp == FD.CPPTYPE_MESSAGE:
            assert fd.message_type is not None
            mt = fd.message_type
            compiled = self._compiled
            mt_name = mt.full_name
            self.compile(mt)
            return lambda value: compiled[mt_name](value)
        if cpp == FD.CPPTYPE_ENUM:
            assert fd.enum_type is not None
            et = fd.enum_type
            if et.full_name == "google.protobuf.NullValue":
                return lambda value: None
            names = {v.number: _printed_enum(fd, v.number) for v in et.values}
            if et.is_closed:
                return lambda value: names[value]  # unknown: KeyError, json_format raises
            return lambda value: names.get(value, value)
        if cpp == FD.CPPTYPE_STRING:
            return _bytes if fd.type == FD.TYPE_BYTES else None
        if cpp == FD.CPPTYPE_BOOL:
            return bool
        if cpp in _INT64:
            return str
        if cpp == FD.CPPTYPE_DOUBLE:
            return _double
        if cpp == FD.CPPTYPE_FLOAT:
            return _float
        return None  # int32 kinds


def _printed_enum(fd: FieldDescriptor, number: int) -> Any:
    """How json_format prints this enum value in this field (its name, or a JSON name option)."""
    assert fd.containing_type is not None
    msg: Any = GetMessageClass(fd.containing_type)()
    if fd.is_repeated:
        getattr(msg, fd.name).append(number)
    else:
        setattr(msg, fd.name, number)
    value = _delegate(msg)[fd.json_name]
    return value[0] if fd.is_repeated else value


def _is_map(fd: FieldDescriptor) -> bool:
    mt = fd.message_type
    return mt is not None and fd.is_repeated and bool(mt.GetOptions().map_entry)


# --- parsing ---------------------------------------------------------------------------------


class _Unsupported(Exception):
    """Not a shape the fast path covers: ParseDict decides."""


def _fill_struct(value: Any, msg: Any, depth: int) -> None:
    if depth > _MAX_DEPTH or type(value) is not dict:
        raise _Unsupported
    msg.Clear()
    fields = msg.fields
    for key in value:
        _fill_value(value[key], fields[key], depth + 1)


def _fill_list(value: Any, msg: Any, depth: int) -> None:
    if depth > _MAX_DEPTH or type(value) is not list:
        raise _Unsupported
    msg.ClearField("values")
    values = msg.values
    for item in value:
        _fill_value(item, values.add(), depth + 1)


def _fill_value(value: Any, msg: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _Unsupported
    t = type(value)
    if t is str:
        msg.string_value = value
    elif t is dict:
        _fill_struct(value, msg.struct_value, depth + 1)
    elif t is bool:
        msg.bool_value = value
    elif t is int or t is float:
        msg.number_value = value
    elif t is list:
        _fill_list(value, msg.list_value, depth + 1)
    elif value is None:
        msg.null_value = 0
    else:
        raise _Unsupported


_WKT_FILLERS: dict[str, Callable[[Any, Any, int], None]] = {
    "google.protobuf.Struct": _fill_struct,
    "google.protobuf.Value": _fill_value,
    "google.protobuf.ListValue": _fill_list,
}

Setter = Callable[[Any, Any, int], None]


class BodyParser:
    """Fills request messages from parsed JSON objects, as ParseDict does, for common shapes."""

    def __init__(self) -> None:
        self._compiled: dict[str, dict[str, Setter]] = {}

    def parse(self, obj: Any, msg: Message) -> bool:
        """Fill `msg` from the JSON object `obj`; False: not covered, use ParseDict (fresh message)."""
        desc = cast(Descriptor, msg.DESCRIPTOR)
        if desc.full_name in _WKT_FILLERS or desc.full_name in _DELEGATED or type(obj) is not dict:
            return False
        table = self._compiled.get(desc.full_name) or self.compile(desc)
        try:
            _fill_message(table, obj, msg, 1)
        except Exception:  # _Unsupported, or a value the message refused: ParseDict's call
            return False
        return True

    def compile(self, desc: Descriptor) -> dict[str, Setter]:
        """The setters of one message type's fields, by JSON and proto name (cached)."""
        name = desc.full_name
        if name in self._compiled:
            return self._compiled[name]
        table: dict[str, Setter] = {}
        self._compiled[name] = table
        for fd in desc.fields:
            setter = self._setter(fd)
            if setter is not None:
                table.setdefault(fd.json_name, setter)
        json_names = {fd.json_name for fd in desc.fields}
        for fd in desc.fields:  # the proto name too, unless it is a JSON name (ParseDict's order)
            setter = table.get(fd.json_name)
            if setter is not None and fd.name not in json_names:
                table[fd.name] = setter
        return table

    def _setter(self, fd: FieldDescriptor) -> Setter | None:
        if fd.is_repeated or fd.containing_oneof is not None or fd.is_extension:
            return None
        field = fd.name
        cpp = fd.cpp_type
        if cpp == FD.CPPTYPE_STRING:
            if fd.type == FD.TYPE_BYTES:
                return None

            def set_str(msg: Any, value: Any, depth: int) -> None:
                if type(value) is not str or not value.isascii():
                    raise _Unsupported
                setattr(msg, field, value)

            return set_str
        if cpp == FD.CPPTYPE_BOOL:

            def set_bool(msg: Any, value: Any, depth: int) -> None:
                if type(value) is not bool:
                    raise _Unsupported
                setattr(msg, field, value)

            return set_bool
        if cpp in _INT32 or cpp in _INT64:

            def set_int(msg: Any, value: Any, depth: int) -> None:
                if type(value) is not int:
                    raise _Unsupported
                setattr(msg, field, value)  # out of range: ValueError, ParseDict's message

            return set_int
        if cpp == FD.CPPTYPE_DOUBLE:

            def set_double(msg: Any, value: Any, depth: int) -> None:
                t = type(value)
                if t is float:
                    if not math.isfinite(value):
                        raise _Unsupported
                elif t is not int:
                    raise _Unsupported
                setattr(msg, field, float(value))

            return set_double
        if cpp == FD.CPPTYPE_ENUM:
            assert fd.enum_type is not None
            numbers = {v.name: v.number for v in fd.enum_type.values}

            def set_enum(msg: Any, value: Any, depth: int) -> None:
                number = numbers.get(value) if type(value) is str else None
                if number is None:
                    raise _Unsupported
                setattr(msg, field, number)

            return set_enum
        if cpp == FD.CPPTYPE_MESSAGE:
            assert fd.message_type is not None
            mt = fd.message_type
            wkt = _WKT_FILLERS.get(mt.full_name)
            if wkt is not None:

                def set_wkt(msg: Any, value: Any, depth: int) -> None:
                    if value is None:
                        raise _Unsupported
                    sub = getattr(msg, field)
                    sub.SetInParent()
                    wkt(value, sub, depth + 1)

                return set_wkt
            if mt.full_name in _DELEGATED or mt.full_name in _STRING_WKT or mt.GetOptions().map_entry:
                return None
            compiled = self._compiled
            mt_name = mt.full_name
            self.compile(mt)

            def set_message(msg: Any, value: Any, depth: int) -> None:
                if type(value) is not dict:
                    raise _Unsupported
                sub = getattr(msg, field)
                sub.SetInParent()
                _fill_message(compiled[mt_name], value, sub, depth + 1)

            return set_message
        return None  # float32


def _fill_message(table: dict[str, Setter], obj: dict[str, Any], msg: Any, depth: int) -> None:
    if depth > _MAX_DEPTH:
        raise _Unsupported
    for key, value in obj.items():
        setter = table.get(key)
        if setter is None:
            raise _Unsupported
        setter(msg, value, depth)
