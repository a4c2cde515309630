"""Struct/Value conversions: every kind, nested, integral numbers as int, compact JSON."""

from __future__ import annotations

import json

from google.protobuf import struct_pb2

from labs_core.structs import (
    dict_to_struct,
    py_to_value,
    struct_json,
    struct_to_dict,
    value_json,
    value_to_py,
)


def test_every_kind_round_trips_nested_and_in_order() -> None:
    d = {
        "s": "é",
        "i": 3,
        "f": 2.5,
        "big": 2.0**53,
        "neg": -7,
        "t": True,
        "n": None,
        "list": [1, "a", None, False, {"x": [1.5, {"y": []}]}],
        "obj": {"z": 1, "a": {}},
    }
    s = dict_to_struct(d)
    back = struct_to_dict(s)
    assert back == d
    assert type(back["i"]) is int and type(back["f"]) is float and type(back["big"]) is float
    assert list(back) == list(struct_to_dict(s))  # stable key order
    assert json.loads(struct_json(s)) == d
    assert " " not in struct_json(dict_to_struct({"a": [1, 2]})) and "é" in struct_json(s)
    assert value_to_py(py_to_value([1, {"k": "v"}])) == [1, {"k": "v"}]
    assert value_json(py_to_value(None)) == "null"
    assert value_to_py(struct_pb2.Value()) is None
