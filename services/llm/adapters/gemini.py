"""Google Gemini through the maintained google-genai SDK (its async client)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncGenerator

import aiohttp
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from services.llm.adapters.base import status_error
from services.llm.domain import tokens
from services.llm.domain.errors import ProviderError
from services.llm.domain.jsonmode import normalise_json_text
from services.llm.domain.model import (
    ASSISTANT,
    CONTENT_FILTER,
    GEMINI,
    LENGTH,
    NONE,
    REQUIRED,
    STOP,
    TOOL,
    TOOL_CALLS,
    Completion,
    GenerateRequest,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)

_FINISH = {
    types.FinishReason.STOP: STOP,
    types.FinishReason.MAX_TOKENS: LENGTH,
    types.FinishReason.SAFETY: CONTENT_FILTER,
    types.FinishReason.RECITATION: CONTENT_FILTER,
    types.FinishReason.BLOCKLIST: CONTENT_FILTER,
    types.FinishReason.PROHIBITED_CONTENT: CONTENT_FILTER,
    types.FinishReason.SPII: CONTENT_FILTER,
}


class GeminiProvider:
    """Gemini models through `client.aio.models.generate_content`."""

    name = GEMINI
    local = False

    def __init__(
        self,
        api_key: str,
        *,
        base_url: str | None = None,
        api_version: str | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        # The SDK's own retries are off: the proxy retries, honouring the provider's hints, and
        # falls back. attempts=1 must be explicit: without retry_options the async client sleeps
        # 1-10 s and retries once on a connection error. Its timeout only backs up the proxy's.
        self._client = genai.Client(
            api_key=api_key,
            vertexai=False,
            http_options=types.HttpOptions(
                base_url=base_url,
                api_version=api_version,
                timeout=int((timeout_s + 1.0) * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            ),
        )

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """Answer `request` with a Gemini model; SDK and transport errors become ProviderError."""
        config = content_config(request)
        contents = gemini_contents(request)
        try:
            response = await self._client.aio.models.generate_content(
                model=model, contents=contents, config=config
            )
        except genai_errors.APIError as e:
            headers = getattr(e.response, "headers", None)
            raise status_error(self.name, e.code, headers, e.details) from e
        except TimeoutError as e:
            raise ProviderError(self.name, "timeout", retryable=False) from e
        except (aiohttp.ClientError, OSError) as e:
            # google-genai sends through aiohttp whenever aiohttp is installed (a dependency here).
            raise ProviderError(self.name, "connection error", retryable=True) from e
        except Exception as e:
            log.exception("gemini: unexpected error from the SDK")
            raise ProviderError(self.name, f"error: {type(e).__name__}") from e
        return self._completion(response, request)

    async def stream(self, model: str, request: GenerateRequest) -> AsyncGenerator[str | Completion, None]:
        """`generate_content_stream`: text parts as they come; usage_metadata from the last chunk."""
        pieces: list[str] = []
        calls: list[ToolCall] = []
        last: types.GenerateContentResponse | None = None
        meta: types.GenerateContentResponseUsageMetadata | None = None
        try:
            stream = await self._client.aio.models.generate_content_stream(
                model=model, contents=gemini_contents(request), config=content_config(request)
            )
            try:
                async for chunk in stream:
                    last = chunk
                    if chunk.usage_metadata is not None:
                        meta = chunk.usage_metadata
                    candidate = chunk.candidates[0] if chunk.candidates else None
                    for part in (candidate.content.parts if candidate and candidate.content else None) or []:
                        if part.function_call is not None:
                            fc = part.function_call
                            calls.append(ToolCall(fc.id or new_call_id(), fc.name or "", dict(fc.args or {})))
                        elif part.text and not part.thought:
                            pieces.append(part.text)
                            yield part.text
            finally:
                await stream.aclose()  # type: ignore[attr-defined]  # an async generator
        except genai_errors.APIError as e:
            headers = getattr(e.response, "headers", None)
            raise status_error(self.name, e.code, headers, e.details) from e
        except TimeoutError as e:
            raise ProviderError(self.name, "timeout", retryable=False) from e
        except (aiohttp.ClientError, OSError) as e:
            raise ProviderError(self.name, "connection error", retryable=True) from e
        except Exception as e:
            log.exception("gemini: unexpected error from the SDK while streaming")
            raise ProviderError(self.name, f"error: {type(e).__name__}") from e
        # The last chunk carries the finish reason (and usage); the text is the pieces together.
        final = types.GenerateContentResponse(
            candidates=[
                types.Candidate(
                    content=types.Content(
                        role="model",
                        parts=[types.Part(text="".join(pieces))]
                        + [
                            types.Part(
                                function_call=types.FunctionCall(id=c.id, name=c.name, args=c.arguments)
                            )
                            for c in calls
                        ],
                    ),
                    finish_reason=(last.candidates[0].finish_reason if last and last.candidates else None),
                )
            ],
            usage_metadata=meta,
        )
        yield self._completion(final, request)

    @staticmethod
    def _completion(response: types.GenerateContentResponse, request: GenerateRequest) -> Completion:
        candidate = response.candidates[0] if response.candidates else None
        parts = candidate.content.parts if candidate and candidate.content else None
        # Thought summaries are not part of the answer.
        text = "".join(p.text for p in parts or [] if p.text and not p.thought)
        calls = tuple(
            ToolCall(
                p.function_call.id or new_call_id(),
                p.function_call.name or "",
                dict(p.function_call.args or {}),
            )
            for p in parts or []
            if p.function_call is not None
        )
        if request.json_mode or request.json_schema is not None:
            text = normalise_json_text(text)
        if candidate is None:
            # No candidate at all: the prompt itself was blocked.
            finish = CONTENT_FILTER
        elif candidate.finish_reason is None:
            finish = STOP
        else:
            finish = _FINISH.get(candidate.finish_reason, str(candidate.finish_reason.value).lower())
        if calls and finish == STOP:
            # Gemini says STOP after function calls; the normalised reason is "tool_calls".
            finish = TOOL_CALLS
        meta = response.usage_metadata
        if meta is not None and meta.prompt_token_count is not None:
            # Thinking tokens are billed as output.
            output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
            usage = Usage(meta.prompt_token_count, output)
        else:
            usage = tokens.estimate_usage(request, text)
        return Completion(text, usage, finish, calls)

    async def aclose(self) -> None:
        """Close the SDK's HTTP sessions."""
        await self._client.aio.aclose()


def new_call_id() -> str:
    """An id for a function call Gemini returned without one (the Gemini API often omits it)."""
    return f"call_{uuid.uuid4().hex[:24]}"


_MODES = {NONE: types.FunctionCallingConfigMode.NONE, REQUIRED: types.FunctionCallingConfigMode.ANY}


def content_config(request: GenerateRequest) -> types.GenerateContentConfig:
    """Options, tools and tool choice as a GenerateContentConfig."""
    json_answer = request.json_mode or request.json_schema is not None
    config = types.GenerateContentConfig(
        system_instruction=request.system or None,
        temperature=request.temperature,
        max_output_tokens=request.max_output_tokens,
        stop_sequences=list(request.stop) or None,
        response_mime_type="application/json" if json_answer else None,
    )
    if request.tools:
        config.tools = [
            types.Tool(
                function_declarations=[
                    types.FunctionDeclaration(
                        name=t.name, description=t.description or None, parameters_json_schema=t.parameters
                    )
                    for t in request.tools
                ]
            )
        ]
        config.tool_config = types.ToolConfig(
            function_calling_config=types.FunctionCallingConfig(
                mode=_MODES.get(request.tool_choice, types.FunctionCallingConfigMode.AUTO)
            )
        )
        # Declarations only: the SDK must never try to run a function itself.
        config.automatic_function_calling = types.AutomaticFunctionCallingConfig(disable=True)
    return config


def gemini_contents(request: GenerateRequest) -> list[types.Content]:
    """The conversation as Gemini contents: assistant -> "model" with function_call parts, tool
    results -> function_response parts (consecutive results in one user turn, as Gemini expects)."""
    names = request.tool_names_by_call_id()
    contents: list[types.Content] = []
    for m in request.conversation():
        if m.role == TOOL:
            part = types.Part(
                function_response=types.FunctionResponse(
                    id=m.tool_call_id, name=names.get(m.tool_call_id, ""), response=m.tool_result or {}
                )
            )
            last = contents[-1] if contents else None
            if last is not None and last.parts and all(p.function_response for p in last.parts):
                last.parts.append(part)
            else:
                contents.append(types.Content(role="user", parts=[part]))
        elif m.role == ASSISTANT:
            parts = [types.Part(text=m.text)] if m.text else []
            parts += [
                types.Part(function_call=types.FunctionCall(id=c.id, name=c.name, args=c.arguments))
                for c in m.tool_calls
            ]
            contents.append(types.Content(role="model", parts=parts))
        else:
            contents.append(types.Content(role="user", parts=[types.Part(text=m.text)]))
    return contents
