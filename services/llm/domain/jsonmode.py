"""JSON mode: what a provider's JSON answer is turned into before it is returned."""

from __future__ import annotations

import json
import re

_FENCE = re.compile(r"^\s*```(?:json)?\s*\n?(.*?)\n?\s*```\s*$", re.DOTALL | re.IGNORECASE)

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
