"""Content kinds, their length limits, prompts, and trimming at a word boundary. Pure."""

from __future__ import annotations

from dataclasses import dataclass

ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of content: its limit in characters and how to ask for it."""

    name: str
    max_chars: int
    ask: str
    max_output_tokens: int


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind("title", 80, "Write one title (at most 80 characters, no quotes, one line)", 60),
        Kind("description", 2000, "Write a product or topic description (at most 2000 characters)", 700),
        Kind(
            "social_post", 280, "Write one social media post (at most 280 characters, hashtags included)", 140
        ),
        Kind(
            "email",
            5000,
            "Write an email. First line: 'Subject: <subject, at most 120 characters>', then a blank line, "
            "then the body (at most 5000 characters)",
            1500,
        ),
    )
}
EMAIL_SUBJECT_MAX = 120
TONES = ("neutral", "friendly", "professional", "enthusiastic", "formal", "playful")


def trim(text: str, limit: int) -> tuple[str, bool]:
    """`text` within `limit` characters, cut at a word boundary with an ellipsis; (text, trimmed)."""
    text = text.strip()
    if len(text) <= limit:
        return text, False
    room = limit - len(ELLIPSIS)
    cut = text[: room + 1]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    # No space in the second half: a single very long word, cut it hard rather than lose most.
    head = cut[:space] if space >= room // 2 else text[:room]
    return head.rstrip(" \n\t,;:-") + ELLIPSIS, True


def prompt_for(kind: Kind, topic: str, tone: str, audience: str, keywords: list[str]) -> tuple[str, str]:
    """(system, prompt) for one request."""
    system = (
        f"You are a careful copywriter. Tone: {tone}. Answer with the requested text only, "
        "no preamble and no commentary."
    )
    parts = [f"{kind.ask}.", f"Topic: {topic}"]
    if audience:
        parts.append(f"Audience: {audience}")
    if keywords:
        parts.append("Use these keywords: " + ", ".join(keywords))
    return system, "\n".join(parts)


def split_email(text: str) -> tuple[str, str]:
    """(subject, body) of an answer that starts with 'Subject:'; else the first line is the subject."""
    lines = text.strip().splitlines()
    if not lines:
        return "", ""
    first = lines[0].strip()
    subject = first[len("subject:") :].strip() if first.lower().startswith("subject:") else first
    return subject, "\n".join(lines[1:]).strip()


def single_line(text: str) -> str:
    """A title on one line without surrounding quotes."""
    line = " ".join(text.split())
    return line.strip("\"'“”")
