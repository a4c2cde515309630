"""Provider SDKs are imported on a configured provider's first call, not at start-up."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from services.llm.adapters.lazy import LazyProvider
from services.llm.bootstrap import build_providers
from services.llm.domain.errors import ProviderError
from services.llm.domain.model import GenerateRequest
from services.llm.tests.conftest import SettingsFactory
from services.llm.tests.fakes import FakeOpenAI, Reply

pytestmark = pytest.mark.timeout(30)

REPO = Path(__file__).resolve().parents[3]

_PROBE = """
import sys
from services.llm.bootstrap import build_providers
from services.llm.config import Settings
providers = build_providers(Settings(google_api_key="k", openai_api_key="k"))
print(sorted(providers), [m for m in ("openai", "google.genai", "httpx") if m in sys.modules])
"""


def test_configured_providers_import_no_sdk_until_used() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=REPO, capture_output=True, text=True, timeout=25, check=True
    ).stdout
    assert out.strip() == "['gemini', 'offline', 'openai'] []"


async def test_first_calls_build_the_provider_once(
    make_settings: SettingsFactory, openai_server: FakeOpenAI
) -> None:
    provider = build_providers(make_settings(openai=openai_server))["openai"]
    assert isinstance(provider, LazyProvider) and not provider.loaded
    openai_server.script(*[Reply(text=f"answer {i}") for i in range(3)])
    try:
        done = await asyncio.gather(
            *(provider.generate("gpt-4o-mini", GenerateRequest(prompt=f"q{i}")) for i in range(3))
        )
        assert sorted(c.text for c in done) == ["answer 0", "answer 1", "answer 2"]
        first = await provider.provider()
        assert provider.loaded and await provider.provider() is first
    finally:
        await provider.aclose()


async def test_a_provider_that_cannot_be_set_up_is_a_provider_error() -> None:
    def load() -> object:
        raise RuntimeError("no SDK")

    provider = LazyProvider("openai", load)  # type: ignore[arg-type]
    with pytest.raises(ProviderError) as e:
        await provider.generate("gpt-4o-mini", GenerateRequest(prompt="hi"))
    assert e.value.provider == "openai" and "setup failed: RuntimeError" in str(e.value)
    await provider.aclose()
