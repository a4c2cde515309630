"""Loopback HTTP servers that speak the providers' wire protocols, for the real SDKs to call.

OpenAI: `POST /v1/chat/completions`. Gemini: `POST /{version}/models/{model}:generateContent`
(google-genai 3.x calls `v1` by default, older releases `v1beta`; both are served and the
path seen is recorded). Each server plays a script of replies, then its default reply.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import json
import re
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Reply:
    """One scripted answer: a success, an error status, or a delay past the client's timeout."""

    status: int = 200
    text: str = "fake answer"
    input_tokens: int | None = 11
    output_tokens: int | None = 7
    # Gemini only: thinking tokens, billed as output.
    thoughts_tokens: int | None = None
    finish: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    # Gemini only: a google.rpc.RetryInfo delay in the error body, e.g. "0.3s".
    retry_delay: str | None = None
    # Tool calls as (id, name, arguments); Gemini sends the id only when it is not empty.
    # OpenAI: arguments given as a string are sent as they are (e.g. malformed JSON).
    tool_calls: list[tuple[str, str, Any]] = field(default_factory=list)
    # Streaming: the text's pieces (default: word by word), a pause before each piece after the
    # first, and whether usage is sent at the end (when the client asks for it).
    chunks: list[str] | None = None
    chunk_delay_s: float = 0.0
    stream_usage: bool = True

    def pieces(self) -> list[str]:
        """The text in the pieces it is streamed in."""
        if self.chunks is not None:
            return self.chunks
        return re.findall(r"\S+\s*|\s+", self.text)


@dataclass(frozen=True)
class Seen:
    """A request as the server received it."""

    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    at: float


class FakeProviderServer(abc.ABC):
    """An aiohttp server on 127.0.0.1, port 0."""

    def __init__(self) -> None:
        self.default = Reply()
        self.replies: deque[Reply] = deque()
        self.seen: list[Seen] = []
        # Streamed events written so far (to check that a cancelled stream stopped early).
        self.sent_chunks = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._release = asyncio.Event()

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, then with `default`."""
        self.replies.extend(replies)

    @abc.abstractmethod
    def routes(self, app: web.Application) -> None:
        """Add the provider's routes."""

    async def start(self) -> None:
        """Listen on a free loopback port."""
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Release delayed handlers and stop."""
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def pause(self, seconds: float) -> None:
        """Wait `seconds` (cut short when the server stops)."""
        if seconds:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), seconds)

    async def sse(
        self, request: web.Request, reply: Reply, events: list[dict[str, Any]], done: bool
    ) -> web.StreamResponse:
        """Send `events` as server-sent events, pausing before each after the first."""
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **reply.headers})
        await response.prepare(request)
        try:
            for i, event in enumerate(events):
                if i:
                    await self.pause(reply.chunk_delay_s)
                await response.write(f"data: {json.dumps(event)}\n\n".encode())
                self.sent_chunks += 1
            if done:
                await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            # The client went away (a cancelled stream): stop sending.
            pass
        return response

    async def _next(self, request: web.Request) -> tuple[Reply, dict[str, Any]]:
        body = await request.json()
        self.seen.append(Seen(request.path, body, dict(request.headers), time.monotonic()))
        reply = self.replies.popleft() if self.replies else self.default
        if reply.delay_s:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._release.wait(), reply.delay_s)
        return reply, body


class FakeOpenAI(FakeProviderServer):
    """The chat completions endpoint of the OpenAI API."""

    api_key = "test-openai-key"

    @property
    def base_url(self) -> str:
        """What OPENAI_BASE_URL would be set to."""
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        """POST /v1/chat/completions."""
        app.router.add_post("/v1/chat/completions", self._chat)

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        reply, body = await self._next(request)
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            return _openai_error(401, "Incorrect API key provided.", {})
        if reply.status != 200:
            return _openai_error(reply.status, f"fake error {reply.status}", reply.headers)
        if body.get("stream"):
            return await self._stream(request, reply, body)
        message: dict[str, Any] = {"role": "assistant", "content": reply.text or None}
        if reply.tool_calls:
            # OpenAI sends a function's arguments as JSON text.
            message["tool_calls"] = [
                {
                    "id": i,
                    "type": "function",
                    "function": {"name": n, "arguments": a if isinstance(a, str) else json.dumps(a)},
                }
                for i, n, a in reply.tool_calls
            ]
        answer: dict[str, Any] = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": reply.finish or ("tool_calls" if reply.tool_calls else "stop"),
                }
            ],
        }
        if reply.input_tokens is not None and reply.output_tokens is not None:
            answer["usage"] = {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
            }
        return web.json_response(answer, headers=reply.headers)

    async def _stream(self, request: web.Request, reply: Reply, body: dict[str, Any]) -> web.StreamResponse:
        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {
                "id": "chatcmpl-fake",
                "object": "chat.completion.chunk",
                "created": 1_700_000_000,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }

        events = [chunk({"role": "assistant", "content": p}) for p in reply.pieces()]
        for n, (i, name, args) in enumerate(reply.tool_calls):
            arguments = args if isinstance(args, str) else json.dumps(args)
            half = len(arguments) // 2
            # The arguments come in two pieces, the id and name with the first.
            first = {
                "index": n,
                "id": i,
                "type": "function",
                "function": {"name": name, "arguments": arguments[:half]},
            }
            events.append(chunk({"tool_calls": [first]}))
            events.append(chunk({"tool_calls": [{"index": n, "function": {"arguments": arguments[half:]}}]}))
        events.append(chunk({}, reply.finish or ("tool_calls" if reply.tool_calls else "stop")))
        include = (body.get("stream_options") or {}).get("include_usage")
        if (
            include
            and reply.stream_usage
            and reply.input_tokens is not None
            and reply.output_tokens is not None
        ):
            usage = {
                "prompt_tokens": reply.input_tokens,
                "completion_tokens": reply.output_tokens,
                "total_tokens": reply.input_tokens + reply.output_tokens,
            }
            events.append({**chunk({}), "choices": [], "usage": usage})
        return await self.sse(request, reply, events, done=True)


def _openai_error(status: int, message: str, headers: dict[str, str]) -> web.Response:
    kind = "rate_limit_exceeded" if status == 429 else "server_error" if status >= 500 else "invalid_request"
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": kind}},
        status=status,
        headers=headers,
    )


_GEMINI_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


class FakeGemini(FakeProviderServer):
    """The generateContent endpoint of the Gemini API."""

    api_key = "test-gemini-key"

    @property
    def base_url(self) -> str:
        """What GOOGLE_GEMINI_BASE_URL would be set to."""
        return f"http://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        """POST /{version}/models/{model}:generateContent."""
        app.router.add_post("/{version}/models/{call}", self._generate)

    async def _generate(self, request: web.Request) -> web.StreamResponse:
        reply, _ = await self._next(request)
        model, _, method = request.match_info["call"].partition(":")
        if method not in ("generateContent", "streamGenerateContent") or request.match_info[
            "version"
        ] not in (
            "v1",
            "v1beta",
        ):
            return _gemini_error(404, f"no such method {request.path}", None, {})
        if request.headers.get("x-goog-api-key") != self.api_key:
            return _gemini_error(400, "API key not valid. Please pass a valid API key.", None, {})
        if reply.status != 200:
            return _gemini_error(reply.status, f"fake error {reply.status}", reply.retry_delay, reply.headers)
        if method == "streamGenerateContent":
            return await self._stream(request, reply, model)
        parts: list[dict[str, Any]] = [{"text": reply.text}] if reply.text else []
        for i, n, a in reply.tool_calls:
            call: dict[str, Any] = {"name": n, "args": a}
            if i:
                call["id"] = i
            parts.append({"functionCall": call})
        answer: dict[str, Any] = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": parts},
                    "finishReason": reply.finish or "STOP",
                    "index": 0,
                }
            ],
            "modelVersion": model,
        }
        if reply.input_tokens is not None and reply.output_tokens is not None:
            usage = {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens + (reply.thoughts_tokens or 0),
            }
            if reply.thoughts_tokens is not None:
                usage["thoughtsTokenCount"] = reply.thoughts_tokens
            answer["usageMetadata"] = usage
        return web.json_response(answer, headers=reply.headers)

    async def _stream(self, request: web.Request, reply: Reply, model: str) -> web.StreamResponse:
        if request.query.get("alt") != "sse":
            return _gemini_error(400, "only alt=sse is served", None, {})
        events: list[dict[str, Any]] = [
            {
                "candidates": [{"content": {"role": "model", "parts": [{"text": p}]}, "index": 0}],
                "modelVersion": model,
            }
            for p in reply.pieces()
        ]
        for i, n, a in reply.tool_calls:
            call: dict[str, Any] = {"name": n, "args": a}
            if i:
                call["id"] = i
            events.append(
                {
                    "candidates": [
                        {"content": {"role": "model", "parts": [{"functionCall": call}]}, "index": 0}
                    ]
                }
            )
        last: dict[str, Any] = {
            "candidates": [
                {
                    "content": {"role": "model", "parts": [{"text": ""}]},
                    "finishReason": reply.finish or "STOP",
                    "index": 0,
                }
            ],
            "modelVersion": model,
        }
        if reply.stream_usage and reply.input_tokens is not None and reply.output_tokens is not None:
            # Gemini sends usage_metadata with the last chunk.
            last["usageMetadata"] = {
                "promptTokenCount": reply.input_tokens,
                "candidatesTokenCount": reply.output_tokens,
                "totalTokenCount": reply.input_tokens + reply.output_tokens,
            }
        events.append(last)
        return await self.sse(request, reply, events, done=False)


def _gemini_error(
    status: int, message: str, retry_delay: str | None, headers: dict[str, str]
) -> web.Response:
    error: dict[str, Any] = {
        "code": status,
        "message": message,
        "status": _GEMINI_STATUS.get(status, "UNKNOWN"),
    }
    if retry_delay is not None:
        error["details"] = [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay}]
    return web.json_response({"error": error}, status=status, headers=headers)
