"""Checks of a GenerateRequest before any provider is asked; each failure names its field."""

from __future__ import annotations

import functools
import json
import re
from typing import Any

import jsonschema
from jsonschema.protocols import Validator

from services.llm.domain.errors import BadRequest
from services.llm.domain.model import ASSISTANT, ROLES, TOOL, TOOL_CHOICES, USER, GenerateRequest

# OpenAI accepts at most 4 stop sequences (Gemini 5); more is refused here rather than by one
# provider and not the other.
MAX_STOP_SEQUENCES = 4
# The intersection of what OpenAI and Gemini accept as a function name.
TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_TOOLS = 128
# Distinct schemas whose compiled validator is kept (the tools and schemas of recent requests).
SCHEMA_CACHE_SIZE = 256


def _key(schema: dict[str, Any]) -> str | None:
    """The schema's JSON text, key order kept (None when it is not plain JSON)."""
    try:
        return json.dumps(schema, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _compiled(key: str) -> Validator:
    schema = json.loads(key)
    return jsonschema.validators.validator_for(schema)(schema)


@functools.lru_cache(maxsize=SCHEMA_CACHE_SIZE)
def _checked(key: str) -> None:
    # A SchemaError is not cached: an invalid schema is checked (and refused) every time.
    schema = json.loads(key)
    jsonschema.validators.validator_for(schema).check_schema(schema)


def validator(schema: dict[str, Any]) -> Validator:
    """A validator for `schema`, compiled once per distinct schema text and reused."""
    key = _key(schema)
    if key is None:
        return jsonschema.validators.validator_for(schema)(schema)
    return _compiled(key)


def check_schema(schema: dict[str, Any]) -> None:
    """Raise jsonschema.SchemaError when `schema` is not a valid schema (a valid one is checked once)."""
    key = _key(schema)
    if key is None:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    else:
        _checked(key)


def validate(request: GenerateRequest) -> None:
    """Raise BadRequest naming the first wrong field of `request`."""
    if not request.prompt.strip() and not request.messages:
        raise BadRequest("prompt", "must not be empty (or give messages)")
    if request.temperature is not None and not 0.0 <= request.temperature <= 2.0:
        raise BadRequest("temperature", "must be between 0 and 2")
    if len(request.stop) > MAX_STOP_SEQUENCES:
        raise BadRequest("stop", f"at most {MAX_STOP_SEQUENCES} stop sequences")
    _validate_messages(request)
    _validate_tools(request)
    if request.json_schema is not None:
        try:
            check_schema(request.json_schema)
        except jsonschema.SchemaError as e:
            raise BadRequest("json_schema", f"not a valid JSON Schema: {e.message}") from e
        if request.tools:
            raise BadRequest("json_schema", "cannot be combined with tools")


def _validate_messages(request: GenerateRequest) -> None:
    calls: set[str] = set()
    for i, m in enumerate(request.messages):
        where = f"messages[{i}]"
        if m.role not in ROLES:
            raise BadRequest(f"{where}.role", f"must be one of {', '.join(ROLES)}")
        if m.tool_calls and m.role != ASSISTANT:
            raise BadRequest(f"{where}.tool_calls", "only an assistant message carries tool calls")
        for j, c in enumerate(m.tool_calls):
            if not c.id:
                raise BadRequest(f"{where}.tool_calls[{j}].id", "must not be empty")
            if not c.name:
                raise BadRequest(f"{where}.tool_calls[{j}].name", "must not be empty")
            calls.add(c.id)
        if m.role == TOOL:
            if not m.tool_call_id:
                raise BadRequest(f"{where}.tool_call_id", "a tool message names the call it answers")
            if m.tool_call_id not in calls:
                raise BadRequest(
                    f"{where}.tool_call_id",
                    f"{m.tool_call_id!r} is no tool call of an earlier assistant message",
                )
        elif m.tool_call_id or m.tool_result is not None:
            raise BadRequest(f"{where}.tool_call_id", "only a tool message answers a tool call")
        if m.role == USER and not m.text.strip():
            raise BadRequest(f"{where}.text", "a user message must not be empty")


def _validate_tools(request: GenerateRequest) -> None:
    if request.tool_choice not in TOOL_CHOICES:
        raise BadRequest("tool_choice", f"must be one of {', '.join(TOOL_CHOICES)}")
    if len(request.tools) > MAX_TOOLS:
        raise BadRequest("tools", f"at most {MAX_TOOLS} tools")
    seen: set[str] = set()
    for i, t in enumerate(request.tools):
        if not TOOL_NAME.match(t.name):
            raise BadRequest(
                f"tools[{i}].name", "letters, digits, _ and -, at most 64, not starting with a digit"
            )
        if t.name in seen:
            raise BadRequest(f"tools[{i}].name", f"duplicate tool {t.name!r}")
        seen.add(t.name)
        if t.parameters.get("type", "object") != "object":
            raise BadRequest(f"tools[{i}].parameters", "must be an object schema")
        try:
            check_schema(t.parameters)
        except jsonschema.SchemaError as e:
            raise BadRequest(f"tools[{i}].parameters", f"not a valid JSON Schema: {e.message}") from e
