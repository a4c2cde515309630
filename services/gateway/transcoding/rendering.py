"""Rendering response messages as proto3 JSON (lowerCamelCase, fields without presence printed)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from services.gateway.transcoding.path_template import TemplateError

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def to_dict(msg: Message) -> dict[str, Any]:
    """A message as its proto3 JSON object, printing fields without presence (`"status": "QUEUED"`)."""
    return json_format.MessageToDict(msg, always_print_fields_with_no_presence=True)


def dumps(obj: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return _dumps(obj).encode()


class ResponseRenderer:
    """Renders a route's response: the whole message, or the field named by `response_body`."""

    __slots__ = ("_field", "_json_name", "_message_field")

    def __init__(self, desc: Descriptor, response_body: str) -> None:
        self._field = ""
        self._json_name = ""
        self._message_field = False
        if response_body and response_body != "*":
            fd = desc.fields_by_name.get(response_body)
            if fd is None:
                raise TemplateError(f"response_body: {desc.full_name} has no field {response_body}")
            self._field = fd.name
            self._json_name = fd.json_name
            self._message_field = fd.message_type is not None and not fd.is_repeated

    def to_obj(self, msg: Message) -> Any:
        """The JSON value of the response."""
        if not self._field:
            return to_dict(msg)
        if self._message_field:
            return to_dict(getattr(msg, self._field))
        return to_dict(msg).get(self._json_name)

    def render(self, msg: Message) -> bytes:
        """The JSON body of the response."""
        return dumps(self.to_obj(msg))
