"""The compiled JSON paths against json_format itself: every message type of the public protos,
filled at random (defaults, unknown enum numbers, NaN, maps, Structs, Any, nesting), must print
exactly as MessageToDict prints it (same keys in the same order), and every body the fast parser
accepts must give exactly the message ParseDict gives.
"""

from __future__ import annotations

import importlib
import json
import math
import random
from collections.abc import Iterator
from typing import Any

import pytest
from google.protobuf import json_format, timestamp_pb2
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from google.protobuf.message_factory import GetMessageClass
from labs.agents.v1 import agent_service_pb2 as pb

from services.gateway.config import PUBLIC_PROTO_MODULES
from services.gateway.transcoding.fastjson import BodyParser, Printer

FD = FieldDescriptor
_RANGES = {
    FD.CPPTYPE_INT32: (-(2**31), 2**31 - 1),
    FD.CPPTYPE_UINT32: (0, 2**32 - 1),
    FD.CPPTYPE_INT64: (-(2**63), 2**63 - 1),
    FD.CPPTYPE_UINT64: (0, 2**64 - 1),
}
_DOUBLES = [0.0, 1.5, -2.0, 78.0, 1e300, 2.0**60, math.inf, -math.inf, math.nan, 1e-7]
_STRINGS = ["", "a", "hello world", "ünïcödé", "tab\t", "日本", "x" * 40]


def _types() -> list[Descriptor]:
    seen: dict[str, Descriptor] = {}

    def walk(d: Descriptor) -> None:
        if d.full_name in seen:
            return
        seen[d.full_name] = d
        for fd in d.fields:
            if fd.message_type is not None:
                walk(fd.message_type)

    for name in PUBLIC_PROTO_MODULES:
        for svc in importlib.import_module(name).DESCRIPTOR.services_by_name.values():
            for m in svc.methods:
                walk(m.input_type)
                walk(m.output_type)
    return [d for d in seen.values() if not d.GetOptions().map_entry]


def _json_value(rng: random.Random, depth: int) -> Any:
    kinds = ["s", "n", "i", "b", "null"] + (["d", "l"] if depth < 3 else [])
    k = rng.choice(kinds)
    if k == "s":
        return rng.choice(_STRINGS)
    if k == "n":
        return rng.choice([0.5, -3.25, 1e20, 78.0])
    if k == "i":
        return rng.randint(-1000, 1000)
    if k == "b":
        return rng.random() < 0.5
    if k == "null":
        return None
    if k == "d":
        return {f"k{i}": _json_value(rng, depth + 1) for i in range(rng.randint(0, 3))}
    return [_json_value(rng, depth + 1) for _ in range(rng.randint(0, 3))]


def _scalar(rng: random.Random, fd: FieldDescriptor) -> Any:
    cpp = fd.cpp_type
    if cpp in _RANGES:
        lo, hi = _RANGES[cpp]
        return rng.choice([0, 1, lo, hi, rng.randint(lo, hi)])
    if cpp == FD.CPPTYPE_DOUBLE:
        return rng.choice(_DOUBLES)
    if cpp == FD.CPPTYPE_FLOAT:
        return rng.choice([0.0, 0.1, 1.5, 3.0e38, math.inf, math.nan])
    if cpp == FD.CPPTYPE_BOOL:
        return rng.random() < 0.5
    if cpp == FD.CPPTYPE_STRING:
        if fd.type == FD.TYPE_BYTES:
            return rng.randbytes(rng.randint(0, 5))
        return rng.choice(_STRINGS)
    assert fd.enum_type is not None
    numbers = [v.number for v in fd.enum_type.values]
    if not fd.enum_type.is_closed:
        numbers.append(99)  # an unknown number of an open enum
    return rng.choice(numbers)


def _fill_wkt(rng: random.Random, msg: Any) -> bool:
    name = msg.DESCRIPTOR.full_name
    if name == "google.protobuf.Struct":
        msg.update({"a": _json_value(rng, 1), "n": 78.0, "e": {}, "l": []})
    elif name == "google.protobuf.Value":
        v = _json_value(rng, 1)
        if isinstance(v, dict):
            msg.struct_value.update(v)
        elif isinstance(v, list):
            msg.list_value.extend(v)
        elif v is None:
            msg.null_value = 0
        elif isinstance(v, bool):
            msg.bool_value = v
        elif isinstance(v, str):
            msg.string_value = v
        else:
            msg.number_value = v
    elif name == "google.protobuf.ListValue":
        msg.extend([_json_value(rng, 1) for _ in range(2)])
    elif name == "google.protobuf.Timestamp":
        msg.seconds, msg.nanos = rng.randint(0, 4_000_000_000), rng.choice([0, 5_000_000, 123])
    elif name == "google.protobuf.Duration":
        msg.seconds, msg.nanos = rng.randint(-100, 100), 0
    elif name == "google.protobuf.FieldMask":
        msg.paths.extend(["a.b", "c"])
    elif name == "google.protobuf.Any":
        msg.Pack(timestamp_pb2.Timestamp(seconds=5))
    elif name.endswith("Value") and name.startswith("google.protobuf."):
        msg.value = _scalar(rng, msg.DESCRIPTOR.fields_by_name["value"])
    else:
        return False
    return True


def fill(rng: random.Random, msg: Any, depth: int = 0) -> Any:
    """Set a random subset of the message's fields, recursively."""
    if _fill_wkt(rng, msg):
        return msg
    for fd in msg.DESCRIPTOR.fields:
        if rng.random() < 0.4:
            continue
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            kfd, vfd = mt.fields_by_name["key"], mt.fields_by_name["value"]
            target = getattr(msg, fd.name)
            for _ in range(rng.randint(0, 2)):
                key = _scalar(rng, kfd)
                if vfd.message_type is not None:
                    fill(rng, target[key], depth + 1)
                else:
                    target[key] = _scalar(rng, vfd)
        elif fd.is_repeated:
            target = getattr(msg, fd.name)
            for _ in range(rng.randint(0, 2)):
                if mt is not None:
                    if depth < 3:
                        fill(rng, target.add(), depth + 1)
                else:
                    target.append(_scalar(rng, fd))
        elif mt is not None:
            if depth < 3:
                getattr(msg, fd.name).SetInParent()
                fill(rng, getattr(msg, fd.name), depth + 1)
        else:
            setattr(msg, fd.name, _scalar(rng, fd))
    return msg


def _outcome(fn: Any) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except Exception as e:  # the same failure (or lack of one) is what matters
        return "error", type(e).__name__


SEEDS = range(25)
TYPES = _types()


@pytest.mark.parametrize("desc", TYPES, ids=lambda d: d.name)
def test_printer_is_message_to_dict(desc: Descriptor) -> None:
    printer = Printer()
    for seed in SEEDS:
        msg = fill(random.Random(f"{desc.full_name}/{seed}"), GetMessageClass(desc)())
        expected = _outcome(lambda: json_format.MessageToDict(msg, always_print_fields_with_no_presence=True))  # noqa: B023
        got = _outcome(lambda: printer.to_dict(msg))  # noqa: B023
        if expected[0] == "error":  # to_dict hands over to json_format, which raises
            assert got == expected
            continue
        assert got[0] == "ok"
        # Same keys in the same order: the rendered bytes are identical.
        assert json.dumps(got[1]) == json.dumps(expected[1]), msg


def _mutations(rng: random.Random, obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield obj
    keys = list(obj)
    odd: list[Any] = [None, "x", 1, 1.5, True, [], {}, "ü", 2**70, math.nan, "12", -1]
    for _ in range(6):
        mutated = dict(obj)
        if keys and rng.random() < 0.8:
            mutated[rng.choice(keys)] = rng.choice(odd)
        else:
            mutated["noSuchField"] = 1
        yield mutated


@pytest.mark.parametrize("desc", TYPES, ids=lambda d: d.name)
def test_parser_gives_what_parse_dict_gives(desc: Descriptor) -> None:
    cls = GetMessageClass(desc)
    parser = BodyParser()
    for seed in SEEDS:
        rng = random.Random(f"parse/{desc.full_name}/{seed}")
        try:
            obj = json_format.MessageToDict(fill(rng, cls()))
        except json_format.SerializeToJsonError:
            continue
        if not isinstance(obj, dict):
            continue
        for body in _mutations(rng, obj):
            body = json.loads(json.dumps(body))  # as a request body arrives
            expected = cls()
            outcome = _outcome(lambda: json_format.ParseDict(body, expected))  # noqa: B023
            fast = cls()
            if parser.parse(body, fast):
                ACCEPTED[desc.full_name] = ACCEPTED.get(desc.full_name, 0) + 1
                assert outcome[0] == "ok", (body, outcome)
                assert fast == expected
                assert fast.SerializeToString(deterministic=True) == expected.SerializeToString(
                    deterministic=True
                )


ACCEPTED: dict[str, int] = {}


def test_the_fast_paths_cover_the_common_requests() -> None:
    parser = BodyParser()
    body = {
        "type": "MARKET",
        "action": "analyze",
        "input": {"category": "toys", "n": [1, 2.5, {"deep": None}], "ok": True},
        "requestId": "r-1",
        "timeout_ms": 5000,
        "maxCostUsd": 2,
    }
    msg = pb.ExecuteRequest()
    assert parser.parse(body, msg)
    assert msg == json_format.ParseDict(body, pb.ExecuteRequest())
    deep: Any = 1
    for _ in range(60):  # past ParseDict's depth limit: handed back to it
        deep = {"d": deep}
    assert not parser.parse({"type": "M", "input": deep}, pb.ExecuteRequest())
    assert not parser.parse({"type": "M", "unknown": 1}, pb.ExecuteRequest())
    reply = pb.GetExecutionResponse(execution=pb.Execution(execution_id="e", status=pb.RUNNING))
    assert Printer().to_dict(reply) == json_format.MessageToDict(
        reply, always_print_fields_with_no_presence=True
    )


def test_a_message_json_format_cannot_print_fails_the_same_way() -> None:
    reply = pb.Execution()
    reply.output.update({"x": 1})
    reply.output.fields["x"].number_value = math.inf
    with pytest.raises(json_format.SerializeToJsonError):
        Printer().to_dict(reply)
    assert isinstance(Message, type)
