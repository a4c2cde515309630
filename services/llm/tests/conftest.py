"""Fixtures of the llm tests: fake provider servers on loopback and settings pointing at them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from labs_core.settings import CommonSettings
from services.llm.config import Settings
from services.llm.tests.fakes import FakeGemini, FakeOpenAI

# Variables the SDKs or our settings read from the environment; a developer's real keys must
# not leak into the tests.
_ISOLATED = [n.upper() for n in Settings.model_fields if n not in CommonSettings.model_fields] + [
    "GEMINI_API_KEY",
    "GOOGLE_GENAI_USE_VERTEXAI",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in _ISOLATED:
        monkeypatch.delenv(name, raising=False)
    yield


@pytest.fixture
async def openai_server() -> AsyncIterator[FakeOpenAI]:
    """A fake OpenAI API on 127.0.0.1."""
    server = FakeOpenAI()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def gemini_server() -> AsyncIterator[FakeGemini]:
    """A fake Gemini API on 127.0.0.1."""
    server = FakeGemini()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def make_settings() -> SettingsFactory:
    """Settings with no provider unless one is passed; short timeouts and backoffs for tests."""

    def make(
        *, gemini: FakeGemini | None = None, openai: FakeOpenAI | None = None, **overrides: Any
    ) -> Settings:
        values: dict[str, Any] = {
            "google_api_key": gemini.api_key if gemini else None,
            "google_gemini_base_url": gemini.base_url if gemini else None,
            "openai_api_key": openai.api_key if openai else None,
            "openai_base_url": openai.base_url if openai else None,
            "gemini_timeout_s": 2.0,
            "openai_timeout_s": 2.0,
            "llm_retry_backoff_s": 0.01,
            "llm_addr": "127.0.0.1:0",
        }
        values.update(overrides)
        return Settings(**values)

    return make
