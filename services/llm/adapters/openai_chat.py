"""OpenAI, and any OpenAI-compatible endpoint, through openai.AsyncOpenAI chat completions."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlparse

import aiohttp
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from services.llm.adapters.base import status_error
from services.llm.domain import tokens
from services.llm.domain.errors import ProviderError
from services.llm.domain.jsonmode import JSON_INSTRUCTION, mentions_json, normalise_json_text
from services.llm.domain.model import (
    ASSISTANT,
    OPENAI,
    STOP,
    TOOL,
    TOOL_CALLS,
    Completion,
    GenerateRequest,
    Message,
    ToolCall,
    Usage,
)

log = logging.getLogger(__name__)


class OpenAIProvider:
    """Chat completions on api.openai.com or on the endpoint named by OPENAI_BASE_URL."""

    name = OPENAI
    local = False

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 30.0) -> None:
        # max_retries=0: the proxy retries (honouring Retry-After) and falls back; the SDK's
        # timeout is only a backstop behind the proxy's. HTTP goes through aiohttp (the SDK's own
        # DefaultAioHttpClient; aiohttp is a dependency here): about half the CPU per call of its
        # default httpx/anyio transport (python -m services.llm.bench_llm).
        self._client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout_s + 1.0,
            max_retries=0,
            http_client=openai.DefaultAioHttpClient(timeout=timeout_s + 1.0),
        )
        # api.openai.com wants max_completion_tokens (its newer models refuse max_tokens);
        # compatible servers (vLLM, Ollama, llama.cpp, ...) know max_tokens more widely.
        host = urlparse(str(self._client.base_url)).hostname or ""
        self._official = host == "api.openai.com"

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """Answer `request` with a chat model; SDK and transport errors become ProviderError."""
        try:
            response = await self._client.chat.completions.create(**self.options(model, request))
        except openai.APIStatusError as e:
            raise status_error(self.name, e.status_code, e.response.headers, e.body) from e
        except openai.APITimeoutError as e:
            raise _timeout_error(e) from e
        except openai.APIConnectionError as e:
            raise ProviderError(self.name, "connection error", retryable=True) from e
        except Exception as e:
            log.exception("openai: unexpected error from the SDK")
            raise ProviderError(self.name, f"error: {type(e).__name__}") from e
        return self._completion(response, request)

    async def stream(self, model: str, request: GenerateRequest) -> AsyncGenerator[str | Completion, None]:
        """Stream with usage included (`stream_options.include_usage`); tool call pieces are joined."""
        pieces: list[str] = []
        calls: dict[int, list[str]] = {}
        finish: str | None = None
        usage: Usage | None = None
        try:
            stream = await self._client.chat.completions.create(
                **self.options(model, request), stream=True, stream_options={"include_usage": True}
            )
            try:
                async for chunk in stream:
                    if chunk.usage is not None:
                        usage = Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
                    for choice in chunk.choices:
                        delta = choice.delta
                        if delta.content:
                            pieces.append(delta.content)
                            yield delta.content
                        for c in delta.tool_calls or []:
                            # [id, name, arguments so far]; id and name come in the first piece.
                            acc = calls.setdefault(c.index, ["", "", ""])
                            if c.id:
                                acc[0] = c.id
                            if c.function is not None:
                                acc[1] += c.function.name or ""
                                acc[2] += c.function.arguments or ""
                        if choice.finish_reason:
                            finish = choice.finish_reason
            finally:
                await stream.close()
        except openai.APIStatusError as e:
            raise status_error(self.name, e.status_code, e.response.headers, e.body) from e
        except openai.APITimeoutError as e:
            raise _timeout_error(e) from e
        except openai.APIConnectionError as e:
            raise ProviderError(self.name, "connection error", retryable=True) from e
        except ProviderError:
            raise
        except Exception as e:
            log.exception("openai: unexpected error from the SDK while streaming")
            raise ProviderError(self.name, f"error: {type(e).__name__}") from e
        text = "".join(pieces)
        tool_calls = tuple(tool_call(i, n, a) for i, n, a in (calls[k] for k in sorted(calls)))
        if usage is None:
            usage = tokens.estimate_usage(request, text)
        yield Completion(
            normalise_json_text(text) if _json(request) else text,
            usage,
            TOOL_CALLS if tool_calls else finish or STOP,
            tool_calls,
        )

    def options(self, model: str, request: GenerateRequest) -> dict[str, Any]:
        """The arguments of chat.completions.create for `request` (options left out when unset)."""
        options: dict[str, Any] = {"model": model, "messages": chat_messages(request)}
        limit = request.max_output_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if limit:
            options["max_completion_tokens" if self._official else "max_tokens"] = limit
        if request.stop:
            options["stop"] = list(request.stop)
        if _json(request):
            options["response_format"] = {"type": "json_object"}
        if request.tools:
            options["tools"] = chat_tools(request)
            options["tool_choice"] = request.tool_choice
        return options

    @staticmethod
    def _completion(response: ChatCompletion, request: GenerateRequest) -> Completion:
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice else None) or ""
        if _json(request):
            text = normalise_json_text(text)
        finish = (choice.finish_reason if choice else None) or STOP
        calls = tuple(
            tool_call(c.id, c.function.name, c.function.arguments)
            for c in (choice.message.tool_calls or [] if choice else [])
            if c.type == "function"
        )
        if calls:
            finish = TOOL_CALLS
        if response.usage is not None:
            usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens)
        else:
            # Some compatible servers send no usage.
            usage = tokens.estimate_usage(request, text)
        return Completion(text, usage, finish, calls)

    async def aclose(self) -> None:
        """Close the SDK's HTTP client."""
        await self._client.close()


def _timeout_error(e: openai.APITimeoutError) -> ProviderError:
    """A timeout, unless aiohttp's refusal to connect is behind it.

    The SDK's aiohttp transport maps every aiohttp.ClientConnectionError (a refused connection
    included) to httpx's ConnectTimeout; a refused connection is a (retryable) connection error.
    """
    cause: BaseException | None = e
    while cause is not None:
        if isinstance(cause, aiohttp.ClientConnectionError) and not isinstance(cause, TimeoutError):
            return ProviderError(OPENAI, "connection error", retryable=True)
        cause = cause.__cause__ or cause.__context__
    return ProviderError(OPENAI, "timeout", retryable=False)


def _json(request: GenerateRequest) -> bool:
    return request.json_mode or request.json_schema is not None


def chat_messages(request: GenerateRequest) -> list[ChatCompletionMessageParam]:
    """The request as chat messages: system, then the conversation in OpenAI's format."""
    messages: list[ChatCompletionMessageParam] = []
    system = request.system
    texts = [m.text for m in request.conversation()]
    if _json(request) and not mentions_json(system, *texts):
        # json_object mode is refused unless a message mentions JSON.
        system = f"{system}\n\n{JSON_INSTRUCTION}".strip()
    if system:
        messages.append({"role": "system", "content": system})
    messages.extend(_chat_message(m) for m in request.conversation())
    return messages


def _chat_message(m: Message) -> ChatCompletionMessageParam:
    if m.role == TOOL:
        # OpenAI takes a tool's result as text: the JSON of the result.
        return {"role": "tool", "tool_call_id": m.tool_call_id, "content": _dumps(m.tool_result or {})}
    if m.role == ASSISTANT:
        if not m.tool_calls:
            return {"role": "assistant", "content": m.text}
        return {
            "role": "assistant",
            "content": m.text or None,
            "tool_calls": [
                {
                    "id": c.id,
                    "type": "function",
                    "function": {"name": c.name, "arguments": _dumps(c.arguments)},
                }
                for c in m.tool_calls
            ],
        }
    return {"role": "user", "content": m.text}


def chat_tools(request: GenerateRequest) -> list[Any]:
    """The request's tools as OpenAI function tools."""
    return [
        {
            "type": "function",
            "function": {"name": t.name, "description": t.description, "parameters": t.parameters},
        }
        for t in request.tools
    ]


def tool_call(call_id: str, name: str, arguments: str) -> ToolCall:
    """An OpenAI tool call (arguments as JSON text) in the normalised form."""
    try:
        args = json.loads(arguments) if arguments.strip() else {}
    except ValueError as e:
        raise ProviderError(
            OPENAI, "malformed tool call arguments", retryable=True, trips_breaker=False
        ) from e
    if not isinstance(args, dict):
        raise ProviderError(
            OPENAI, "tool call arguments are not an object", retryable=True, trips_breaker=False
        )
    return ToolCall(call_id, name, args)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
