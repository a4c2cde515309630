"""google.api.http path templates: the parser and a segment trie that matches request paths.

Grammar (google/api/http.proto)::

    Template = "/" Segments [ Verb ] ;
    Segments = Segment { "/" Segment } ;
    Segment  = "*" | "**" | LITERAL | Variable ;
    Variable = "{" FieldPath [ "=" Segments ] "}" ;
    FieldPath = IDENT { "." IDENT } ;
    Verb     = ":" LITERAL ;

Matching resolves the path first, then the method: at every segment a literal beats a
single-segment wildcard, which beats `**`, with backtracking, so `/api/agents/metrics` is
GetMetrics and never GetExecution("metrics"). A path that resolves but has no binding for the
request's method is a 405 naming the methods it has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Generic, TypeVar
from urllib.parse import unquote

from services.gateway.transcoding import errors

STAR = "*"
DOUBLE_STAR = "**"
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_LITERAL = re.compile(r"[^/{}*:=]+")

T = TypeVar("T")


class TemplateError(ValueError):
    """A path template that does not follow the grammar."""


@dataclass(frozen=True, slots=True)
class Variable:
    """A `{field.path=...}` capture: segments [start, end) of the path; end None means to the end."""

    field_path: tuple[str, ...]
    start: int
    end: int | None

    @property
    def name(self) -> str:
        """The dotted field path."""
        return ".".join(self.field_path)

    def value(self, segments: list[str]) -> str:
        """The captured value: one segment, or several joined by '/'."""
        if self.end is not None and self.end - self.start == 1:
            return segments[self.start]
        return "/".join(segments[self.start : self.end])


@dataclass(frozen=True, slots=True)
class PathTemplate:
    """A parsed template: its segments (literals, `*`, `**`), verb and variables."""

    source: str
    segments: tuple[str, ...]
    verb: str
    variables: tuple[Variable, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.segments: list[str] = []
        self.variables: list[Variable] = []

    def fail(self, what: str) -> TemplateError:
        return TemplateError(f"bad path template {self.text!r} at {self.pos}: {what}")

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def parse(self) -> PathTemplate:
        if self.peek() != "/":
            raise self.fail("must start with '/'")
        self.pos += 1
        self.parse_segments(in_variable=False)
        verb = ""
        if self.peek() == ":":
            self.pos += 1
            verb = self.literal()
        if self.pos != len(self.text):
            raise self.fail(f"unexpected {self.peek()!r}")
        for i, seg in enumerate(self.segments):
            if seg == DOUBLE_STAR and i != len(self.segments) - 1:
                raise self.fail("'**' must be the last segment")
        names = [v.name for v in self.variables]
        if len(set(names)) != len(names):
            raise self.fail("a field is bound twice")
        return PathTemplate(self.text, tuple(self.segments), verb, tuple(self.variables))

    def parse_segments(self, in_variable: bool) -> None:
        while True:
            self.segment(in_variable)
            if self.peek() != "/":
                return
            self.pos += 1

    def segment(self, in_variable: bool) -> None:
        if self.text.startswith(DOUBLE_STAR, self.pos):
            self.pos += 2
            self.segments.append(DOUBLE_STAR)
        elif self.peek() == "*":
            self.pos += 1
            self.segments.append(STAR)
        elif self.peek() == "{":
            if in_variable:
                raise self.fail("nested variable")
            self.variable()
        else:
            self.segments.append(self.literal())

    def literal(self) -> str:
        m = _LITERAL.match(self.text, self.pos)
        if not m:
            raise self.fail("expected a literal")
        self.pos = m.end()
        return m.group()

    def variable(self) -> None:
        self.pos += 1  # "{"
        path: list[str] = []
        while True:
            m = _IDENT.match(self.text, self.pos)
            if not m:
                raise self.fail("expected a field name")
            path.append(m.group())
            self.pos = m.end()
            if self.peek() != ".":
                break
            self.pos += 1
        start = len(self.segments)
        if self.peek() == "=":
            self.pos += 1
            self.parse_segments(in_variable=True)
        else:
            self.segments.append(STAR)
        if self.peek() != "}":
            raise self.fail("expected '}'")
        self.pos += 1
        end: int | None = None if self.segments[-1] == DOUBLE_STAR else len(self.segments)
        self.variables.append(Variable(tuple(path), start, end))


def parse_template(text: str) -> PathTemplate:
    """Parse a google.api.http path template."""
    return _Parser(text).parse()


class _Leaf(Generic[T]):
    __slots__ = ("allow", "sources", "targets")

    def __init__(self) -> None:
        self.targets: dict[str, T] = {}
        self.sources: dict[str, str] = {}
        self.allow = ""


class _Node(Generic[T]):
    __slots__ = ("leaves", "literals", "rest", "star")

    def __init__(self) -> None:
        self.literals: dict[str, _Node[T]] = {}
        self.star: _Node[T] | None = None
        self.rest: _Node[T] | None = None
        self.leaves: dict[str, _Leaf[T]] = {}


class PathRouter(Generic[T]):
    """Maps (HTTP method, path) to a target; literal segments beat variables."""

    def __init__(self) -> None:
        self._root: _Node[T] = _Node()
        self._has_verbs = False
        self.size = 0

    def add(self, method: str, template: PathTemplate, target: T) -> None:
        """Register a target; a second binding of the same method and path shape is an error."""
        node = self._root
        for seg in template.segments:
            if seg == STAR:
                node.star = node.star or _Node()
                node = node.star
            elif seg == DOUBLE_STAR:
                node.rest = node.rest or _Node()
                node = node.rest
            else:
                node = node.literals.setdefault(seg, _Node())
        leaf = node.leaves.setdefault(template.verb, _Leaf())
        if method in leaf.targets:
            raise TemplateError(f"{method} {template.source} conflicts with {method} {leaf.sources[method]}")
        leaf.targets[method] = target
        leaf.sources[method] = template.source
        leaf.allow = ", ".join(sorted(leaf.targets))
        self._has_verbs = self._has_verbs or bool(template.verb)
        self.size += 1

    def match(self, method: str, path: str) -> tuple[T, list[str]]:
        """The target for a request and the path's decoded segments (for Variable.value).

        Raises errors.GatewayError: 404 when no template matches, 405 when the path matches
        but not for this method.
        """
        segments = _split(path)
        leaf = None
        if self._has_verbs and segments and ":" in segments[-1]:
            last, _, verb = segments[-1].rpartition(":")
            with_verb = [*segments[:-1], last]
            leaf = _find(self._root, with_verb, 0, verb)
            if leaf is not None:
                segments = with_verb
        if leaf is None:
            leaf = _find(self._root, segments, 0, "")
        if leaf is None:
            raise errors.route_not_found(method, path)
        target = leaf.targets.get(method)
        if target is None:
            raise errors.method_not_allowed(method, path, leaf.allow)
        return target, segments


def _split(path: str) -> list[str]:
    if len(path) > 1 and path.endswith("/"):
        path = path[:-1]
    parts = path[1:].split("/") if path != "/" else []
    if "%" in path:
        try:
            parts = [unquote(p, errors="strict") for p in parts]
        except UnicodeDecodeError as e:
            raise errors.invalid_field("path", f"percent-encoding is not UTF-8 ({e.reason})") from None
    return parts


def _find(node: _Node[T], segments: list[str], i: int, verb: str) -> _Leaf[T] | None:
    if i == len(segments):
        leaf = node.leaves.get(verb)
        if leaf is not None:
            return leaf
        # `**` also matches zero segments.
        return node.rest.leaves.get(verb) if node.rest is not None else None
    seg = segments[i]
    child = node.literals.get(seg)
    if child is not None:
        found = _find(child, segments, i + 1, verb)
        if found is not None:
            return found
    if node.star is not None and seg:
        found = _find(node.star, segments, i + 1, verb)
        if found is not None:
            return found
    if node.rest is not None:
        return node.rest.leaves.get(verb)
    return None
