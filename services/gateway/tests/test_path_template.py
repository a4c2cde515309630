"""Unit tests of the path template parser and the route trie."""

from __future__ import annotations

import pytest

from services.gateway.transcoding.errors import GatewayError
from services.gateway.transcoding.path_template import (
    DOUBLE_STAR,
    STAR,
    PathRouter,
    TemplateError,
    Variable,
    parse_template,
)


def test_literal_template() -> None:
    t = parse_template("/api/agents/execute")
    assert t.segments == ("api", "agents", "execute")
    assert t.verb == ""
    assert t.variables == ()


def test_simple_variable() -> None:
    t = parse_template("/api/agents/{execution_id}")
    assert t.segments == ("api", "agents", STAR)
    assert t.variables == (Variable(("execution_id",), 2, 3),)


def test_variable_with_segments_nested_field_and_verb() -> None:
    t = parse_template("/v1/{book.name=shelves/*/books/*}/pages/{page}:read")
    assert t.segments == ("v1", "shelves", STAR, "books", STAR, "pages", STAR)
    assert t.verb == "read"
    assert t.variables == (Variable(("book", "name"), 1, 5), Variable(("page",), 6, 7))
    assert t.variables[0].name == "book.name"


def test_double_star_runs_to_the_end() -> None:
    t = parse_template("/files/{path=**}")
    assert t.segments == ("files", DOUBLE_STAR)
    assert t.variables == (Variable(("path",), 1, None),)
    assert t.variables[0].value(["files", "a", "b", "c"]) == "a/b/c"


def test_wildcards_without_variables() -> None:
    assert parse_template("/a/*/b/**").segments == ("a", STAR, "b", DOUBLE_STAR)


@pytest.mark.parametrize(
    "bad",
    [
        "api/agents",  # no leading slash
        "/api/{id",  # unclosed
        "/api/{}",  # no field name
        "/api/{a={b}}",  # nested variable
        "/api/**/x",  # ** not last
        "/api/{x}/{x}",  # bound twice
        "/api/x:",  # empty verb
        "/api/{1x}",  # not an identifier
        "/api//x",  # empty segment
    ],
)
def test_bad_templates(bad: str) -> None:
    with pytest.raises(TemplateError):
        parse_template(bad)


def _router(*entries: tuple[str, str]) -> PathRouter[str]:
    r: PathRouter[str] = PathRouter()
    for method, source in entries:
        r.add(method, parse_template(source), f"{method} {source}")
    return r


ROUTER = _router(
    ("POST", "/api/agents/execute"),
    ("GET", "/api/agents/{execution_id}"),
    ("DELETE", "/api/agents/{execution_id}"),
    ("GET", "/api/agents/{agent}/history"),
    ("GET", "/api/agents/metrics"),
    ("GET", "/api/agents"),
    ("GET", "/files/{path=**}"),
    ("POST", "/v1/{name=jobs/*}:cancel"),
    ("GET", "/v1/{name=jobs/*}"),
)


@pytest.mark.parametrize(
    ("method", "path", "target", "segments"),
    [
        ("GET", "/api/agents/metrics", "GET /api/agents/metrics", ["api", "agents", "metrics"]),
        ("GET", "/api/agents/e1", "GET /api/agents/{execution_id}", ["api", "agents", "e1"]),
        ("GET", "/api/agents/e1/", "GET /api/agents/{execution_id}", ["api", "agents", "e1"]),
        (
            "GET",
            "/api/agents/metrics/history",
            "GET /api/agents/{agent}/history",
            ["api", "agents", "metrics", "history"],
        ),
        ("GET", "/api/agents", "GET /api/agents", ["api", "agents"]),
        ("GET", "/api/agents/a%2Fb", "GET /api/agents/{execution_id}", ["api", "agents", "a/b"]),
        ("GET", "/files", "GET /files/{path=**}", ["files"]),
        ("GET", "/files/a/b", "GET /files/{path=**}", ["files", "a", "b"]),
        ("POST", "/v1/jobs/j1:cancel", "POST /v1/{name=jobs/*}:cancel", ["v1", "jobs", "j1"]),
        ("GET", "/v1/jobs/j1", "GET /v1/{name=jobs/*}", ["v1", "jobs", "j1"]),
        ("GET", "/v1/jobs/a:b", "GET /v1/{name=jobs/*}", ["v1", "jobs", "a:b"]),
    ],
)
def test_match(method: str, path: str, target: str, segments: list[str]) -> None:
    assert ROUTER.match(method, path) == (target, segments)


@pytest.mark.parametrize(
    "path", ["/", "/api", "/api/agents/e1/nope", "/api//x", "/v1/other/j1", "/api/agents//history"]
)
def test_no_route_is_404(path: str) -> None:
    with pytest.raises(GatewayError) as info:
        ROUTER.match("GET", path)
    assert info.value.http_status == 404


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("GET", "/api/agents/execute", "POST"),
        ("PUT", "/api/agents/e1", "DELETE, GET"),
        ("DELETE", "/api/agents/metrics", "GET"),
        ("GET", "/v1/jobs/j1:cancel", "POST"),
    ],
)
def test_wrong_method_is_405(method: str, path: str, allow: str) -> None:
    with pytest.raises(GatewayError) as info:
        ROUTER.match(method, path)
    assert info.value.http_status == 405
    assert info.value.headers == {"Allow": allow}


def test_conflicting_bindings_are_refused() -> None:
    r = _router(("GET", "/a/{x}"))
    with pytest.raises(TemplateError, match="conflicts"):
        r.add("GET", parse_template("/a/{y}"), "other")
    r.add("POST", parse_template("/a/{y}"), "fine")  # another method on the same shape is fine


def test_invalid_percent_encoding_is_400() -> None:
    with pytest.raises(GatewayError) as info:
        ROUTER.match("GET", "/api/agents/%ff")
    assert info.value.http_status == 400
