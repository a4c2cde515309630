"""Settings from the environment, the model table and the price arithmetic."""

from __future__ import annotations

import pytest

from services.llm.bootstrap import build_catalog, build_proxy, migrate_schema
from services.llm.config import Settings
from services.llm.domain.catalog import CatalogError, ModelCatalog
from services.llm.domain.errors import UnknownModel
from services.llm.domain.model import GEMINI, OFFLINE, OPENAI, Price, Usage

pytestmark = pytest.mark.timeout(10)


def test_settings_read_the_documented_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_API_KEY", "g-key")
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", "http://127.0.0.1:9/")
    monkeypatch.setenv("OPENAI_API_KEY", "  ")  # blank: unconfigured
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:8/v1")
    monkeypatch.setenv("DEFAULT_AI_MODEL", "gpt-4o")
    monkeypatch.setenv("LLM_FALLBACK_CHAIN", "openai, Offline")
    monkeypatch.setenv("ALLOW_OFFLINE_FALLBACK", "false")
    monkeypatch.setenv("GEMINI_TIMEOUT_S", "2.5")
    monkeypatch.setenv("LLM_PRICES", '{"gpt-4o": {"input": 2.0, "output": 8.0}}')
    monkeypatch.setenv("LLM_MODELS", '{"llama3.1": "openai"}')
    s = Settings()
    assert s.google_api_key is not None and s.google_api_key.get_secret_value() == "g-key"
    assert s.google_gemini_base_url == "http://127.0.0.1:9/"
    assert s.openai_api_key is None
    assert s.openai_base_url == "http://127.0.0.1:8/v1"
    assert s.default_ai_model == "gpt-4o"
    assert s.llm_fallback_chain == (OPENAI, OFFLINE)
    assert s.allow_offline_fallback is False
    assert s.gemini_timeout_s == 2.5
    catalog = build_catalog(s)
    assert catalog.models["gpt-4o"].price == Price(2.0, 8.0)
    assert catalog.models["llama3.1"].provider == OPENAI
    assert "g-key" not in repr(s)


def test_defaults() -> None:
    s = Settings()
    assert s.default_ai_model == "gemini-2.0-flash"
    assert s.llm_fallback_chain == (GEMINI, OPENAI, OFFLINE)
    assert s.allow_offline_fallback is True
    assert s.google_api_key is None and s.openai_api_key is None


def test_an_unknown_provider_in_the_chain_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_FALLBACK_CHAIN", "gemini,anthropic")
    with pytest.raises(ValueError, match="anthropic"):
        Settings()


def test_catalog_errors_name_their_variable() -> None:
    with pytest.raises(CatalogError, match="DEFAULT_AI_MODEL"):
        ModelCatalog.build("gpt-17")
    with pytest.raises(CatalogError, match="LLM_PRICES: nope"):
        ModelCatalog.build("gemini-2.0-flash", prices={"nope": {"input": 1, "output": 1}})
    with pytest.raises(CatalogError, match="LLM_PRICES: gpt-4o"):
        ModelCatalog.build("gemini-2.0-flash", prices={"gpt-4o": {"in": 1}})
    with pytest.raises(CatalogError, match="LLM_MODELS"):
        ModelCatalog.build("gemini-2.0-flash", extra_models={"x": "anthropic"})
    with pytest.raises(ValueError, match="OPENAI_FALLBACK_MODEL"):
        build_catalog(Settings(openai_fallback_model="gemini-2.0-flash"))


def test_resolve_uses_the_default_and_refuses_unknown_models() -> None:
    catalog = ModelCatalog.build("gemini-2.0-flash")
    assert catalog.resolve("").name == "gemini-2.0-flash"
    assert catalog.resolve("gpt-4o-mini").provider == OPENAI
    with pytest.raises(UnknownModel) as e:
        catalog.resolve("gpt-17")
    assert e.value.field == "model" and "gpt-17" in str(e.value)


def test_cost_is_exact() -> None:
    assert Price(0.10, 0.40).cost(Usage(1000, 500)) == 0.0003
    assert Price(0.15, 0.60).cost(Usage(1200, 300)) == 0.00036
    assert Price(1.25, 10.00).cost(Usage(1, 1)) == 0.00001125
    assert Price(0, 0).cost(Usage(10**6, 10**6)) == 0.0


def test_no_key_means_offline_only() -> None:
    proxy = build_proxy(Settings())
    assert sorted(proxy.providers) == [OFFLINE]
    listed = {m.spec.name: m.available for m in proxy.list_models()}
    assert listed["offline"] and not listed["gemini-2.0-flash"] and not listed["gpt-4o-mini"]


async def test_migrate_schema_is_a_no_op() -> None:
    await migrate_schema("postgresql://unused@127.0.0.1:1/none")
