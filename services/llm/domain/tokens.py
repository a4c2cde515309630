"""The local token estimate, used when a provider sends no usage and by the offline provider.

One token per run of word characters (`\\w+`) and one per punctuation mark (`[^\\w\\s]`);
whitespace is free. BPE tokenizers count somewhat more for English prose (roughly 1.3 tokens
per word) and split long or rare words, so this is a documented lower-bound estimate, always
reported with `estimated=true`. It is deterministic and costs one regex scan.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from services.llm.domain.model import Usage

if TYPE_CHECKING:
    from services.llm.domain.model import GenerateRequest

TOKEN = re.compile(r"\w+|[^\w\s]")


def estimate_tokens(*texts: str) -> int:
    """The estimated token count of the given texts together."""
    return sum(len(TOKEN.findall(t)) for t in texts if t)


def estimate_usage(request: GenerateRequest, output: str) -> Usage:
    """The local estimate of a call's usage: `request`'s text in, `output` out (`estimated=true`)."""
    return Usage(estimate_tokens(*request.all_text()), estimate_tokens(output), True)


def truncate_to_tokens(text: str, limit: int) -> tuple[str, bool]:
    """The longest prefix of `text` holding at most `limit` tokens, and whether anything was cut."""
    if limit <= 0:
        return "", bool(text.strip())
    end = 0
    for count, match in enumerate(TOKEN.finditer(text), start=1):
        if count > limit:
            return text[:end].rstrip(), True
        end = match.end()
    return text, False
