"""A configured provider whose SDK is imported and whose client is built on first use.

The provider SDKs (google-genai, openai: their pydantic models, httpx) cost tens of MB and
hundreds of ms to import. A configured provider that is never asked costs nothing; the first call
imports the SDK in a worker thread (the event loop keeps serving) and builds the client on the
loop, once, however many calls arrive together.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing

from services.llm.adapters.base import Provider
from services.llm.domain.errors import ProviderError
from services.llm.domain.model import Completion, GenerateRequest

log = logging.getLogger(__name__)

# Run in a worker thread: imports the SDK and returns the constructor of the provider.
Loader = Callable[[], Callable[[], Provider]]


class LazyProvider:
    """Stands for the provider `load()` yields, building it on the first generate or stream."""

    local = False

    def __init__(self, name: str, load: Loader) -> None:
        self.name = name
        self._load = load
        self._provider: Provider | None = None
        self._lock = asyncio.Lock()

    @property
    def loaded(self) -> bool:
        """Whether the SDK has been imported and the client built."""
        return self._provider is not None

    async def provider(self) -> Provider:
        """The real provider, built on first use."""
        if self._provider is not None:
            return self._provider
        async with self._lock:
            if self._provider is None:
                try:
                    build = await asyncio.to_thread(self._load)
                    self._provider = build()
                except Exception as e:
                    log.exception("%s: the provider could not be set up", self.name)
                    raise ProviderError(self.name, f"setup failed: {type(e).__name__}") from e
            return self._provider

    async def generate(self, model: str, request: GenerateRequest) -> Completion:
        """Answer `request` with `model` (building the provider first if needed)."""
        provider = self._provider or await self.provider()
        return await provider.generate(model, request)

    async def stream(self, model: str, request: GenerateRequest) -> AsyncGenerator[str | Completion, None]:
        """The provider's stream; closing this one closes it."""
        provider = self._provider or await self.provider()
        async with aclosing(provider.stream(model, request)) as pieces:
            async for piece in pieces:
                yield piece

    async def aclose(self) -> None:
        """Close the provider if it was built (idempotent)."""
        if self._provider is not None:
            await self._provider.aclose()
