"""JSON mode: what a provider's JSON answer is turned into before it is returned."""

from __future__ import annotations

import json
import re
from typing import Any

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL | re.IGNORECASE)

_ANY_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)

JSON_INSTRUCTION = "Answer with a single JSON object."


def normalise_json_text(text: str) -> str:
    """`text` without a Markdown code fence when the fenced part is valid JSON; else unchanged.

    Some OpenAI-compatible servers ignore `response_format` and wrap the object in ```json;
    the fence is the only thing removed, the JSON itself is returned byte for byte.
    """
    m = _FENCE.match(text)
    if m is None:
        return text
    inner = m.group(1).strip()
    try:
        json.loads(inner)
    except ValueError:
        return text
    return inner


def mentions_json(*texts: str) -> bool:
    """True when a message mentions JSON (OpenAI's json_object mode insists that one does)."""
    return any("json" in t.lower() for t in texts)


def parse_json_answer(text: str) -> tuple[bool, Any]:
    """(found, value): the JSON value of an answer, tolerating a code fence and prose around it.

    Tried in order: the whole text; the content of the first ``` fence; the first `{` or `[`
    from which a complete JSON value can be read (what follows it is ignored).
    """
    stripped = text.strip()
    try:
        return True, json.loads(stripped)
    except ValueError:
        pass
    fenced = _ANY_FENCE.search(text)
    if fenced is not None:
        try:
            return True, json.loads(fenced.group(1).strip())
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            return True, value
    return False, None
