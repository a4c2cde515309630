"""The compiled predicate agrees with jsonschema (Draft 2020-12, format checker) — differential."""

from __future__ import annotations

import copy
import random
from typing import Any

from jsonschema import Draft202012Validator

from services.tools.domain.fastcheck import compile_predicate
from services.tools.domain.validation import SchemaCheck
from services.tools.toolbox.market import ANALYZE_MARKET_PRICE, CREATE_LISTING, GET_LISTINGS

CHECKER = Draft202012Validator.FORMAT_CHECKER

LISTING = {
    "id": "listing-1",
    "seller": "s",
    "title": "A lamp",
    "description": "",
    "category": "furniture",
    "price": 12.5,
    "price_cents": 1250,
    "currency": "USD",
    "status": "active",
    "attributes": {"colour": "red"},
    "created_at": "2026-11-24T03:00:00+00:00",
    "updated_at": "2026-11-24T03:00:00Z",
}

ODD_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    1,
    -1,
    1.0,
    1.5,
    -0.5,
    10**9,
    "",
    "x",
    "active",
    [],
    [1],
    {},
    {"a": "b"},
    "2026-11-24T03:00:00+00:00",
    "not a date",
    "2026-13-40T99:00:00Z",
    200 * "y",
]


def _mutations(doc: Any, rng: random.Random) -> list[Any]:
    """Copies of `doc` with one value replaced, one key removed or one key added, at random paths."""
    out = []
    paths: list[list[Any]] = []

    def walk(x: Any, at: list[Any]) -> None:
        paths.append(at)
        if isinstance(x, dict):
            for k, v in x.items():
                walk(v, [*at, k])
        elif isinstance(x, list):
            for i, v in enumerate(x):
                walk(v, [*at, i])

    walk(doc, [])
    for at in paths:
        for _ in range(6):
            d = copy.deepcopy(doc)
            parent = d
            for p in at[:-1]:
                parent = parent[p]
            op = rng.randrange(3)
            if not at:
                d = rng.choice(ODD_VALUES)
            elif op == 0:
                parent[at[-1]] = rng.choice(ODD_VALUES)
            elif op == 1 and isinstance(parent, dict):
                del parent[at[-1]]
            elif isinstance(parent, dict):
                parent[f"extra{rng.randrange(3)}"] = rng.choice(ODD_VALUES)
            out.append(d)
    return out


def _agree(schema: dict[str, Any], instances: list[Any]) -> int:
    fast = compile_predicate(schema, CHECKER.conforms)
    assert fast is not None
    slow = Draft202012Validator(schema, format_checker=CHECKER)
    invalid = 0
    for x in instances:
        expected = slow.is_valid(x)
        assert fast(x) == expected, (schema, x)
        invalid += not expected
    return invalid


def test_agrees_with_jsonschema_on_market_results_and_arguments() -> None:
    rng = random.Random(7)
    results = {
        "get_listings": {
            "listings": [LISTING, dict(LISTING, id="listing-2")],
            "total": 2,
            "next_page_token": "t",
        },
        "create_listing": {"listing": LISTING, "created": True},
    }
    checked = 0
    for d in (GET_LISTINGS, CREATE_LISTING):
        doc = results[d.name]
        invalid = _agree(d.result, [doc, *_mutations(doc, rng)])
        assert invalid > 50  # the mutations do break it, so both sides were exercised
        checked += 1
    args = [
        {"category": "electronics", "limit": 20, "fields": ["id", "title", "price"]},
        {"title": "abc", "category": "toys", "price": 3, "attributes": {"a": "b"}},
        {"category": "toys", "window_days": 30, "currency": "USD", "status": "sold"},
    ]
    for d in (GET_LISTINGS, CREATE_LISTING, ANALYZE_MARKET_PRICE):
        _agree(d.parameters, [a for doc in args for a in [doc, *_mutations(doc, rng)]])
        checked += 1
    assert checked == 5


def test_unknown_keywords_fall_back_to_jsonschema() -> None:
    assert compile_predicate({"type": "object", "patternProperties": {"^a": {}}}) is None
    assert compile_predicate({"type": "object", "properties": {"a": {"$ref": "#/x"}}}) is None
    assert compile_predicate({"enum": [1, True]}) is None
    check = SchemaCheck({"type": "object", "properties": {"a": {"anyOf": [{"type": "string"}]}}}, root="r")
    assert not check.compiled
    assert [v.field for v in check.violations({"a": 1})] == ["r.a"]


def test_a_failure_is_still_explained_field_by_field() -> None:
    check = SchemaCheck(GET_LISTINGS.result, root="result")
    assert check.compiled
    bad = {
        "listings": [dict(LISTING, price="12"), {"id": "x", "secret": "s"}],
        "total": -1,
    }
    assert [v.field for v in check.violations(bad)] == [
        "result.listings[0].price",
        "result.listings[1].secret",
        "result.total",
    ]


def _definitions() -> list[Any]:
    import importlib

    from services.tools.domain.registry import ToolDefinition

    out = []
    for mod in ("market", "ops", "analytics", "content", "system"):
        m = importlib.import_module(f"services.tools.toolbox.{mod}")
        out += [v for v in vars(m).values() if isinstance(v, ToolDefinition)]
    return out


def _sample(schema: Any, rng: random.Random, depth: int = 0) -> Any:
    """A random instance near `schema`: mostly right, sometimes wrong, at every level."""
    if not isinstance(schema, dict) or depth > 4 or rng.random() < 0.1:
        return rng.choice(ODD_VALUES)
    if "enum" in schema:
        return rng.choice([*schema["enum"], *ODD_VALUES[:3]])
    t = schema.get("type")
    if t == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: _sample(s, rng, depth + 1) for k, s in props.items() if rng.random() < 0.6}
    if t == "array":
        return [_sample(schema.get("items", {}), rng, depth + 1) for _ in range(rng.randrange(4))]
    if t == "integer":
        return rng.choice([0, 1, 5, 100, 1000, -3, 1.0])
    if t == "number":
        return rng.choice([0, 0.5, 12.25, -1, 10**8])
    if t == "string":
        return rng.choice(
            ["a", "abc", "toys", "2026-11-24T03:00:00Z", "x" * 300, "Europe/Paris", "* * * * *"]
        )
    return rng.choice(ODD_VALUES)


def test_every_tool_schema_is_compiled_and_agrees() -> None:
    rng = random.Random(11)
    defs = _definitions()
    assert len(defs) >= 12
    for d in defs:
        for schema in (d.parameters, d.result):
            assert SchemaCheck(schema, root="x").compiled, d.name
            docs = [_sample(schema, rng) for _ in range(300)]
            _agree(schema, [x for doc in docs[:20] for x in _mutations(doc, rng)] + docs)


def test_start_up_does_not_import_jsonschema_pglast_or_croniter() -> None:
    import subprocess
    import sys

    code = (
        "import sys, services.tools.bootstrap\n"
        "print(sorted(m for m in ('jsonschema', 'pglast', 'croniter') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert out.stdout.strip() == "[]"
