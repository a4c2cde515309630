"""Rendering response messages as proto3 JSON (lowerCamelCase, fields without presence printed)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message

from services.gateway.transcoding.fastjson import Printer
from services.gateway.transcoding.path_template import TemplateError

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


_FLOATING = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}
_DYNAMIC = {"google.protobuf.Struct", "google.protobuf.Value", "google.protobuf.ListValue"}
_EXACT = float(2**53)


def has_floats(desc: Descriptor, _seen: frozenset[str] = frozenset()) -> bool:
    """Whether a message type can hold a JSON number printed as a float (Struct or double)."""
    if desc.full_name in _DYNAMIC:
        return True
    if desc.full_name in _seen:
        return False
    seen = _seen | {desc.full_name}
    return any(
        fd.type in _FLOATING or (fd.message_type is not None and has_floats(fd.message_type, seen))
        for fd in desc.fields
    )


def integral_numbers(obj: Any) -> Any:
    """Integral floats (78.0) as ints (78), in place — proto3 JSON allows either form."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if type(v) is float:
                if v.is_integer() and -_EXACT <= v <= _EXACT:
                    obj[k] = int(v)
            elif isinstance(v, (dict, list)):
                integral_numbers(v)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            if type(v) is float:
                if v.is_integer() and -_EXACT <= v <= _EXACT:
                    obj[i] = int(v)
            elif isinstance(v, (dict, list)):
                integral_numbers(v)
    elif type(obj) is float and obj.is_integer() and -_EXACT <= obj <= _EXACT:
        return int(obj)
    return obj


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return _dumps(obj).encode()


class ResponseRenderer:
    """Renders a route's response: the whole message, or the field named by `response_body`."""

    __slots__ = ("_field", "_floats", "_json_name", "_message_field", "_printer")

    def __init__(self, desc: Descriptor, response_body: str) -> None:
        # Converters compiled here, at start-up; the output is exactly MessageToDict's.
        self._printer = Printer()
        self._printer.compile(desc)
        self._field = ""
        self._json_name = ""
        self._message_field = False
        # Only types that can hold floats are walked to print integral ones as integers.
        self._floats = has_floats(desc)
        if response_body and response_body != "*":
            fd = desc.fields_by_name.get(response_body)
            if fd is None:
                raise TemplateError(f"response_body: {desc.full_name} has no field {response_body}")
            self._field = fd.name
            self._json_name = fd.json_name
            self._message_field = fd.message_type is not None and not fd.is_repeated

    def to_obj(self, msg: Message) -> Any:
        """The JSON value of the response."""
        to_dict = self._printer.to_dict
        if not self._field:
            obj: Any = to_dict(msg)
        elif self._message_field:
            obj = to_dict(getattr(msg, self._field))
        else:
            obj = to_dict(msg).get(self._json_name)
        return integral_numbers(obj) if self._floats else obj

    def render(self, msg: Message) -> bytes:
        """The JSON body of the response."""
        return dumps(self.to_obj(msg))
