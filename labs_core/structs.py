"""Fast conversions between google.protobuf.Struct/Value and plain JSON-like Python values."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import struct_pb2

JSON = Any


def value_to_py(v: struct_pb2.Value) -> JSON:
    """A Value as a plain Python value; integral numbers come back as int."""
    kind = v.WhichOneof("kind")
    # Most frequent kinds first; a struct's keys are iterated and looked up (the map's items()
    # goes through the abc machinery, about a third of the cost of a conversion).
    if kind == "string_value":
        return v.string_value
    if kind == "number_value":
        n = v.number_value
        return int(n) if n.is_integer() and abs(n) < 2**53 else n
    if kind == "struct_value":
        f = v.struct_value.fields
        return {k: value_to_py(f[k]) for k in f}
    if kind == "list_value":
        return [value_to_py(x) for x in v.list_value.values]
    if kind == "bool_value":
        return v.bool_value
    return None


def struct_to_dict(s: struct_pb2.Struct) -> dict[str, JSON]:
    """A Struct as a dict."""
    f = s.fields
    return {k: value_to_py(f[k]) for k in f}


def dict_to_struct(d: dict[str, JSON] | None, out: struct_pb2.Struct | None = None) -> struct_pb2.Struct:
    """A dict as a Struct (written into `out` when given)."""
    s = out if out is not None else struct_pb2.Struct()
    if d:
        s.update(d)
    return s


def py_to_value(v: JSON) -> struct_pb2.Value:
    """A plain JSON-like Python value as a Value (TypeError/ValueError if it is not JSON)."""
    out = struct_pb2.Value()
    if v is None:
        out.null_value = struct_pb2.NULL_VALUE
    elif isinstance(v, bool):
        out.bool_value = v
    elif isinstance(v, int | float):
        out.number_value = float(v)
    elif isinstance(v, str):
        out.string_value = v
    elif isinstance(v, dict):
        out.struct_value.update(v)
    elif isinstance(v, list | tuple):
        out.list_value.extend(list(v))
    else:
        raise TypeError(f"{type(v).__name__} is not a JSON value")
    return out


def value_json(v: struct_pb2.Value) -> str:
    """Compact JSON text of a Value."""
    return json.dumps(value_to_py(v), separators=(",", ":"), ensure_ascii=False)


def struct_json(s: struct_pb2.Struct) -> str:
    """Compact JSON text of a Struct (for jsonb columns)."""
    return json.dumps(struct_to_dict(s), separators=(",", ":"), ensure_ascii=False)
