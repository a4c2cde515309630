"""The offline provider: a local, deterministic digest of the prompt, labelled as such.

It lets the stack run with no model keys. The answer is no model's answer: it says so, then
gives the prompt's first sentences, the numbers it mentions and its most frequent words, which
is enough for agents and tests to have real, input-dependent output. Same input, same output;
it answers in microseconds. Temperature is ignored; `max_output_tokens` and stop sequences are
honoured; in JSON mode the answer is always a valid JSON object (stop sequences are not applied
there, since cutting would break it).

Function calling (deterministic): when the request has tools, `tool_choice` is not "none" and
no tool result is in the messages yet, the words of the last user message (lower-cased, 3+
letters, stop words dropped) are matched against each tool's name (split on `_`/`-`) and
description. The tool with the most matching words is called (ties: the first declared; with
`tool_choice` "required" and no match, the first tool). Its arguments are the schema's required
properties it can fill from the message, in this order: a `name: value` / `name=value` /
`name "value"` mention; an `enum` value the message contains; for numbers, the numbers of the
message in order; the property's `default`. Properties it cannot fill are left out (the tool's
own validation then names them). The call id is derived from the conversation, so the same
request gives the same id. Otherwise it answers, digesting the last user message and the tool
results. Parameter extraction (`json_schema` of an object): the answer is the object of the
required properties filled by the same rule, plus `"offline_provider": true` unless the schema
forbids additional properties.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import AsyncGenerator
from typing import Any

from services.llm.domain import tokens
from services.llm.domain.model import (
    LENGTH,
    NONE,
    OFFLINE,
    REQUIRED,
    STOP,
    TOOL,
    TOOL_CALLS,
    Completion,
    GenerateRequest,
    Tool,
    ToolCall,
    Usage,
)

LABEL = "[offline provider]"
NOTE = "No model provider is configured, so this is a local digest of the prompt, not a model's answer."

# Only the head of a very long prompt is digested, which keeps the answer time flat.
_ANALYSED_CHARS = 4_000
_SENTENCES = 2
_SENTENCE_CHARS = 240
_NUMBERS = 6
_KEYWORDS = 5

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_SPACE = re.compile(r"\s+")
_NUMBER = re.compile(r"\d+(?:[,.]\d+)*%?")
_SIGNS = frozenset("$€£-+")
_WORD = re.compile(r"[^\W\d_][\w'-]{3,}")
# fmt: off
_STOPWORDS = frozenset((
    "about", "above", "after", "again", "against", "also", "among", "because", "been", "before",
    "being", "below", "between", "both", "could", "does", "doing", "down", "during", "each", "even",
    "ever", "every", "from", "further", "have", "having", "here", "into", "itself", "just", "more",
    "most", "much", "must", "only", "other", "over", "same", "should", "some", "such", "than", "that",
    "their", "theirs", "them", "then", "there", "these", "they", "this", "those", "through", "under",
    "until", "upon", "very", "want", "were", "what", "when", "where", "which", "while", "will", "with",
    "within", "without", "would", "your", "yours", "please", "give", "make", "tell", "using", "used",
))
# fmt: on


class OfflineProvider:
    """Answers every request locally; never fails, never waits."""

    name = OFFLINE
    local = True

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """The digest of `request` (see the module docstring)."""
        return answer(request)

    async def stream(self, model: str, request: GenerateRequest) -> AsyncGenerator[str | Completion, None]:
        """The same answer, one line at a time."""
        completion = answer(request)
        for line in completion.text.splitlines(keepends=True):
            yield line
        yield completion

    async def aclose(self) -> None:
        """Nothing to release."""


def answer(request: GenerateRequest) -> Completion:
    """The offline answer to `request` (pure and deterministic)."""
    call = choose_tool_call(request)
    if call is not None:
        usage = Usage(
            tokens.estimate_tokens(*request.all_text()),
            tokens.estimate_tokens(json.dumps(call.arguments)) + 1,
            True,
        )
        return Completion("", usage, TOOL_CALLS, (call,))
    digest = _digest(_subject(request))
    limit = request.max_output_tokens
    if request.json_schema is not None and request.json_schema.get("type", "object") == "object":
        text = _dumps(_schema_answer(request.json_schema, request.last_user_text()))
        usage = tokens.estimate_usage(request, text)
        return Completion(text, usage, STOP)
    if request.json_mode:
        text, cut = _json_answer(digest, limit)
    else:
        text, cut = _text_answer(digest, limit)
        text, stopped = _apply_stop(text, request.stop)
        cut = cut and not stopped
    usage = tokens.estimate_usage(request, text)
    return Completion(text, usage, LENGTH if cut else STOP)


def _subject(request: GenerateRequest) -> str:
    # The last user message, then the results of the tools called since it.
    text = request.last_user_text()
    results = [m.tool_result for m in request.messages if m.role == TOOL and m.tool_result is not None]
    if results:
        text = f"{text}\n" + "\n".join(_dumps(r) for r in results)
    return text


_SPLIT = re.compile(r"[_\-\s]+")
_WORDS = re.compile(r"[^\W\d_]{3,}")


def _words(text: str) -> set[str]:
    return {w for w in _WORDS.findall(_SPLIT.sub(" ", text.lower())) if w not in _STOPWORDS}


def choose_tool_call(request: GenerateRequest) -> ToolCall | None:
    """The tool call the offline provider makes for `request`, if any (rule in the module docstring)."""
    if not request.tools or request.tool_choice == NONE:
        return None
    if any(m.role == TOOL for m in request.messages):
        return None
    text = request.last_user_text()
    wanted = _words(text)
    best: Tool | None = None
    best_score = 0
    for tool in request.tools:
        score = len(wanted & (_words(tool.name) | _words(tool.description)))
        if score > best_score:
            best, best_score = tool, score
    if best is None:
        if request.tool_choice != REQUIRED:
            return None
        best = request.tools[0]
    arguments = _fill_arguments(best, text)
    digest = hashlib.sha256(
        json.dumps([best.name, arguments, len(request.messages), text], sort_keys=True).encode()
    ).hexdigest()
    return ToolCall(f"call_offline_{digest[:16]}", best.name, arguments)


def _fill_arguments(tool: Tool, text: str) -> dict[str, Any]:
    properties = tool.parameters.get("properties") or {}
    required = [r for r in tool.parameters.get("required") or [] if isinstance(r, str)]
    numbers = [n for n in re.findall(r"-?\d+(?:\.\d+)?", text)]
    lowered = text.lower()
    out: dict[str, Any] = {}
    for name in required:
        found = properties.get(name)
        spec: dict[str, Any] = found if isinstance(found, dict) else {}
        kind = spec.get("type")
        m = re.search(
            rf"\b{re.escape(name)}\s*(?::|=|\s)\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)", text, re.IGNORECASE
        )
        mentioned = m.group(1).strip("\"'") if m else None
        value: Any = None
        if mentioned is not None:
            value = _coerce(mentioned, kind)
        if value is None and isinstance(spec.get("enum"), list):
            value = next((e for e in spec["enum"] if isinstance(e, str) and e.lower() in lowered), None)
        if value is None and kind in ("integer", "number") and numbers:
            value = _coerce(numbers.pop(0), kind)
        if value is None and "default" in spec:
            value = spec["default"]
        if value is not None:
            out[name] = value
    return out


def _schema_answer(schema: dict[str, Any], text: str) -> dict[str, Any]:
    # Parameter extraction: the schema's required properties filled from the message (the same
    # rule as tool arguments), labelled unless the schema forbids extra properties.
    out = _fill_arguments(Tool("extract", "", schema), text)
    if schema.get("additionalProperties", True) is not False:
        out = {"offline_provider": True, **out}
    return out


def _coerce(raw: str, kind: object) -> Any:
    if kind == "integer":
        try:
            return int(float(raw))
        except ValueError:
            return None
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return None
    if kind == "boolean":
        return {"true": True, "false": False}.get(raw.lower())
    if kind in ("object", "array"):
        return None
    return raw


class _Digest:
    __slots__ = ("keywords", "numbers", "summary")

    def __init__(self, summary: str, numbers: list[str], keywords: list[str]) -> None:
        self.summary = summary
        self.numbers = numbers
        self.keywords = keywords


def _digest(prompt: str) -> _Digest:
    head = prompt[:_ANALYSED_CHARS].strip()
    parts = _SENTENCE_END.split(head, maxsplit=_SENTENCES)[:_SENTENCES]
    sentences = [_SPACE.sub(" ", s[: 2 * _SENTENCE_CHARS])[:_SENTENCE_CHARS].strip() for s in parts]
    summary = " ".join(s for s in sentences if s)
    numbers: list[str] = []
    for m in _NUMBER.finditer(head):
        start = m.start()
        before = head[start - 1] if start else " "
        if before.isalnum() or before == "_":
            # Part of a name ("Q3", "x86"), not a quantity.
            continue
        n = before + m.group() if before in _SIGNS else m.group()
        if n not in numbers:
            numbers.append(n)
            if len(numbers) == _NUMBERS:
                break
    words = [w.lower() for w in _WORD.findall(head)]
    counts = Counter(w for w in words if w not in _STOPWORDS)
    first_seen: dict[str, int] = {}
    for i, w in enumerate(words):
        first_seen.setdefault(w, i)
    ranked = sorted(counts, key=lambda w: (-counts[w], first_seen[w]))
    return _Digest(summary, numbers, ranked[:_KEYWORDS])


def _text_answer(d: _Digest, limit: int | None) -> tuple[str, bool]:
    lines = [f"{LABEL} {NOTE}"]
    if d.summary:
        lines.append(f"Summary: {d.summary}")
    if d.numbers:
        lines.append(f"Key numbers: {', '.join(d.numbers)}")
    if d.keywords:
        lines.append(f"Keywords: {', '.join(d.keywords)}")
    text = "\n".join(lines)
    if limit is None:
        return text, False
    return tokens.truncate_to_tokens(text, limit)


def _json_answer(d: _Digest, limit: int | None) -> tuple[str, bool]:
    full: dict[str, Any] = {
        "offline_provider": True,
        "note": NOTE,
        "summary": d.summary,
        "key_numbers": d.numbers,
        "keywords": d.keywords,
    }
    text = _dumps(full)
    if limit is None or tokens.estimate_tokens(text) <= limit:
        return text, False
    # Over the limit: drop fields from the least to the most useful, then shorten the summary,
    # so that what is returned is always valid JSON.
    smaller = {"offline_provider": True, "summary": d.summary, "key_numbers": d.numbers}
    for candidate in (smaller, {"offline_provider": True, "summary": d.summary}):
        text = _dumps(candidate)
        if tokens.estimate_tokens(text) <= limit:
            return text, True
    bare = {"offline_provider": True, "summary": ""}
    room = limit - tokens.estimate_tokens(_dumps(bare))
    if room > 0:
        summary, _ = tokens.truncate_to_tokens(d.summary, room)
        text = _dumps({"offline_provider": True, "summary": summary})
        # Escapes can add tokens; shrink until it fits.
        while tokens.estimate_tokens(text) > limit and summary:
            summary, _ = tokens.truncate_to_tokens(summary, tokens.estimate_tokens(summary) - 1)
            text = _dumps({"offline_provider": True, "summary": summary})
        if tokens.estimate_tokens(text) <= limit:
            return text, True
    return _dumps({"offline_provider": True}), True


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _apply_stop(text: str, stop: tuple[str, ...]) -> tuple[str, bool]:
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)
