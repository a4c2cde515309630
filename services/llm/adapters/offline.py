"""The offline provider: a local, deterministic digest of the prompt, labelled as such.

It lets the stack run with no model keys. The answer is no model's answer: it says so, then
gives the prompt's first sentences, the numbers it mentions and its most frequent words, which
is enough for agents and tests to have real, input-dependent output. Same input, same output;
it answers in microseconds. Temperature is ignored; `max_output_tokens` and stop sequences are
honoured; in JSON mode the answer is always a valid JSON object (stop sequences are not applied
there, since cutting would break it).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any

from services.llm.domain import tokens
from services.llm.domain.model import LENGTH, OFFLINE, STOP, Completion, GenerateRequest, Usage

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

    async def aclose(self) -> None:
        """Nothing to release."""


def answer(request: GenerateRequest) -> Completion:
    """The offline answer to `request` (pure and deterministic)."""
    digest = _digest(request.prompt)
    limit = request.max_output_tokens
    if request.json_mode:
        text, cut = _json_answer(digest, limit)
    else:
        text, cut = _text_answer(digest, limit)
        text, stopped = _apply_stop(text, request.stop)
        cut = cut and not stopped
    usage = Usage(tokens.estimate_tokens(request.system, request.prompt), tokens.estimate_tokens(text), True)
    return Completion(text, usage, LENGTH if cut else STOP)


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
