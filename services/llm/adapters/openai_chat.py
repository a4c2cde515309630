"""OpenAI, and any OpenAI-compatible endpoint, through openai.AsyncOpenAI chat completions."""

from __future__ import annotations

import logging
from urllib.parse import urlparse

import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam

from services.llm.adapters.base import status_error
from services.llm.domain import tokens
from services.llm.domain.errors import ProviderError
from services.llm.domain.jsonmode import JSON_INSTRUCTION, mentions_json, normalise_json_text
from services.llm.domain.model import OPENAI, STOP, Completion, GenerateRequest, Usage

log = logging.getLogger(__name__)


class OpenAIProvider:
    """Chat completions on api.openai.com or on the endpoint named by OPENAI_BASE_URL."""

    name = OPENAI
    local = False

    def __init__(self, api_key: str, *, base_url: str | None = None, timeout_s: float = 30.0) -> None:
        # max_retries=0: the proxy retries (honouring Retry-After) and falls back; the SDK's
        # timeout is only a backstop behind the proxy's.
        self._client = openai.AsyncOpenAI(
            api_key=api_key, base_url=base_url, timeout=timeout_s + 1.0, max_retries=0
        )
        # api.openai.com wants max_completion_tokens (its newer models refuse max_tokens);
        # compatible servers (vLLM, Ollama, llama.cpp, ...) know max_tokens more widely.
        host = urlparse(str(self._client.base_url)).hostname or ""
        self._official = host == "api.openai.com"

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """Answer `request` with a chat model; SDK and transport errors become ProviderError."""
        messages: list[ChatCompletionMessageParam] = []
        system = request.system
        if request.json_mode and not mentions_json(request.system, request.prompt):
            # json_object mode is refused unless a message mentions JSON.
            system = f"{system}\n\n{JSON_INSTRUCTION}".strip()
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": request.prompt})
        limit = request.max_output_tokens
        try:
            response = await self._client.chat.completions.create(
                model=model,
                messages=messages,
                temperature=request.temperature if request.temperature is not None else openai.omit,
                max_completion_tokens=limit if limit and self._official else openai.omit,
                max_tokens=limit if limit and not self._official else openai.omit,
                stop=list(request.stop) if request.stop else openai.omit,
                response_format={"type": "json_object"} if request.json_mode else openai.omit,
            )
        except openai.APIStatusError as e:
            raise status_error(self.name, e.status_code, e.response.headers, e.body) from e
        except openai.APITimeoutError as e:
            raise ProviderError(self.name, "timeout", retryable=False) from e
        except openai.APIConnectionError as e:
            raise ProviderError(self.name, "connection error", retryable=True) from e
        except Exception as e:
            log.exception("openai: unexpected error from the SDK")
            raise ProviderError(self.name, f"error: {type(e).__name__}") from e
        return self._completion(response, request)

    @staticmethod
    def _completion(response: ChatCompletion, request: GenerateRequest) -> Completion:
        choice = response.choices[0] if response.choices else None
        text = (choice.message.content if choice else None) or ""
        if request.json_mode:
            text = normalise_json_text(text)
        finish = (choice.finish_reason if choice else None) or STOP
        if response.usage is not None:
            usage = Usage(response.usage.prompt_tokens, response.usage.completion_tokens)
        else:
            # Some compatible servers send no usage.
            usage = Usage(
                tokens.estimate_tokens(request.system, request.prompt), tokens.estimate_tokens(text), True
            )
        return Completion(text, usage, finish)

    async def aclose(self) -> None:
        """Close the SDK's HTTP client."""
        await self._client.close()
