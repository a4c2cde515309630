"""Parameter extraction: validating a JSON answer against a schema, and the one repair prompt."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jsonschema

from services.llm.domain.model import ASSISTANT, USER, GenerateRequest, Message
from services.llm.domain.validation import validator as compiled_validator

REPAIR_PROMPT = (
    "Your answer is not valid against the required JSON Schema: {error}. "
    "Answer again with only the corrected JSON value."
)


def schema_error(schema: dict[str, Any], has_json: bool, value: Any) -> str | None:
    """Why the answer does not satisfy `schema` (the first error, with its path), or None."""
    if not has_json:
        return "the answer holds no JSON value"
    error = jsonschema.exceptions.best_match(compiled_validator(schema).iter_errors(value))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return f"at /{where}: {error.message}" if where else error.message


def repair_request(request: GenerateRequest, answer: str, error: str) -> GenerateRequest:
    """`request` followed by the invalid answer and a user message naming the validation error."""
    return replace(
        request,
        prompt="",
        messages=(
            *request.conversation(),
            Message(ASSISTANT, answer),
            Message(USER, REPAIR_PROMPT.format(error=error)),
        ),
    )
