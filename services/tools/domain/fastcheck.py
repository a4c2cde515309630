"""A JSON Schema subset compiled once into a plain-Python predicate: the hot path's "is it valid?".

`compile_predicate(schema)` returns a function `instance -> bool` that agrees with Draft 2020-12
(jsonschema, with its format checker) for the keywords it knows, or None when the schema uses any
other keyword (then the caller validates with jsonschema every time). It only answers valid or not:
when it says "not valid", the caller asks jsonschema to name every failing field, so error messages
are unchanged. On a `get_listings` result (20 listings) it takes ~2 % of jsonschema's time.

Known keywords: type, properties, required, additionalProperties (bool or schema), items (one
schema), enum (strings only), const (string), minimum, maximum, exclusiveMinimum, exclusiveMaximum,
minLength, maxLength, minItems, maxItems, minProperties, maxProperties, format (the format
checker's own function), pattern, uniqueItems, allOf, if/then/else; annotations (description, default, title, examples, $comment) are ignored.
"""

from __future__ import annotations

import operator
import re
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
    "pattern",
    "uniqueItems",
    "allOf",
    "if",
    "then",
    "else",
}


def date_time_conforms(v: Any) -> bool:
    """jsonschema's `date-time` check, exactly (RFC 3339 via rfc3339_validator; non-strings pass)."""
    if not isinstance(v, str):
        return True
    from rfc3339_validator import validate_rfc3339

    return bool(validate_rfc3339(v.upper()))


def well_formed(schema: Any) -> bool:
    """Whether `schema` is certainly a valid Draft 2020-12 schema using only the keywords above (so it
    needs no metaschema check); False means "ask jsonschema", not "invalid"."""
    if isinstance(schema, bool):
        return True
    if not isinstance(schema, dict) or not set(schema) <= _KNOWN:
        return False
    for k in ("description", "title", "$comment", "format"):
        if k in schema and not isinstance(schema[k], str):
            return False
    if "deprecated" in schema and not isinstance(schema["deprecated"], bool):
        return False
    if "examples" in schema and not isinstance(schema["examples"], list):
        return False
    t = schema.get("type")
    if t is not None:
        names = [t] if isinstance(t, str) else t
        if not isinstance(names, list) or not names or len(set(map(str, names))) != len(names):
            return False
        if any(not isinstance(n, str) or n not in _TYPES for n in names):
            return False
    if "enum" in schema and not (
        isinstance(schema["enum"], list)
        and schema["enum"]
        and all(isinstance(x, str) for x in schema["enum"])
    ):
        return False
    if "const" in schema and not isinstance(schema["const"], str):
        return False
    for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        if k in schema and not _is_number(schema[k]):
            return False
    for k in ("minLength", "maxLength", "minItems", "maxItems", "minProperties", "maxProperties"):
        if k in schema and not (_is_integer(schema[k]) and schema[k] >= 0):
            return False
    if "pattern" in schema:
        if not isinstance(schema["pattern"], str):
            return False
        try:
            re.compile(schema["pattern"])
        except re.error:
            return False
    if "uniqueItems" in schema and not isinstance(schema["uniqueItems"], bool):
        return False
    if "allOf" in schema and not (
        isinstance(schema["allOf"], list) and schema["allOf"] and all(well_formed(x) for x in schema["allOf"])
    ):
        return False
    if not all(well_formed(schema[k]) for k in ("if", "then", "else") if k in schema):
        return False
    req = schema.get("required", [])
    if not isinstance(req, list) or not all(isinstance(x, str) for x in req) or len(set(req)) != len(req):
        return False
    props = schema.get("properties", {})
    if not isinstance(props, dict) or not all(well_formed(v) for v in props.values()):
        return False
    return all(well_formed(schema[k]) for k in ("items", "additionalProperties") if k in schema)


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


def _unique(v: Any) -> bool:
    if not isinstance(v, list):
        return True
    if all(isinstance(x, str) for x in v):
        return len(set(v)) == len(v)
    from jsonschema._utils import uniq  # numbers, objects...: jsonschema's own equality (1 == 1.0, True != 1)

    return bool(uniq(v))


def _any_of(preds: tuple[Predicate, ...]) -> Predicate:
    def check(v: Any) -> bool:
        return any(p(v) for p in preds)

    return check


def _bounded(bounds: tuple[tuple[Callable[[Any, Any], bool], Any], ...]) -> Predicate:
    def check(v: Any) -> bool:
        return not _is_number(v) or all(ok(v, b) for ok, b in bounds)

    return check


def _sized(kind: Any, ok: Callable[[Any, Any], bool], bound: Any) -> Predicate:
    def check(v: Any) -> bool:
        return not isinstance(v, kind) or ok(len(v), bound)

    return check


def _formatted(fmt: Callable[[Any, str], bool], name: str) -> Predicate:
    def check(v: Any) -> bool:
        return fmt(v, name)

    return check


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
        checks.append(preds[0] if len(preds) == 1 else _any_of(tuple(preds)))

    if "enum" in schema or "const" in schema:
        allowed = list(schema["enum"]) if "enum" in schema else [schema["const"]]
        if not all(isinstance(x, str) for x in allowed):
            raise _Unsupported(allowed)
        members = frozenset(allowed)
        checks.append(lambda v: isinstance(v, str) and v in members)

    bounds: list[tuple[Callable[[Any, Any], bool], Any]] = []
    for key, ok in (
        ("minimum", operator.ge),
        ("maximum", operator.le),
        ("exclusiveMinimum", operator.gt),
        ("exclusiveMaximum", operator.lt),
    ):
        if key in schema:
            if not _is_number(schema[key]):
                raise _Unsupported(key)
            bounds.append((ok, schema[key]))
    if bounds:
        checks.append(_bounded(tuple(bounds)))

    for kind, lo_key, hi_key in (
        (str, "minLength", "maxLength"),
        (list, "minItems", "maxItems"),
        (dict, "minProperties", "maxProperties"),
    ):
        for key, ok in ((lo_key, operator.ge), (hi_key, operator.le)):
            if key in schema:
                if not _is_integer(schema[key]):
                    raise _Unsupported(key)
                checks.append(_sized(kind, ok, schema[key]))

    if "format" in schema and fmt is not None:
        checks.append(_formatted(fmt, schema["format"]))

    if "pattern" in schema:
        rx = re.compile(schema["pattern"])
        checks.append(lambda v: not isinstance(v, str) or rx.search(v) is not None)

    if schema.get("uniqueItems") is True:
        checks.append(_unique)

    for sub in schema.get("allOf", []):
        checks.append(_compile(sub, fmt))

    if "if" in schema:
        cond = _compile(schema["if"], fmt)
        then = _compile(schema.get("then", True), fmt)
        other = _compile(schema.get("else", True), fmt)
        checks.append(lambda v: then(v) if cond(v) else other(v))

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
