"""The llm service's settings, read once from the environment at the entry point."""

from __future__ import annotations

from typing import Annotated

from pydantic import SecretStr, field_validator
from pydantic_settings import NoDecode

from labs_core.settings import CommonSettings
from services.llm.domain.model import PROVIDERS


class Settings(CommonSettings):
    """Providers, routing, retries, breaker and prices of the model proxy.

    Keys and base URLs use the SDKs' own variable names; an empty key means unconfigured.
    """

    google_api_key: SecretStr | None = None
    # e.g. http://127.0.0.1:8089 (the SDK appends /<api version>/models/<model>:generateContent).
    google_gemini_base_url: str | None = None
    # The Gemini API version ("v1", "v1beta"); unset: the SDK's default.
    google_genai_api_version: str | None = None
    openai_api_key: SecretStr | None = None
    # Any OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1; unset: api.openai.com.
    openai_base_url: str | None = None

    default_ai_model: str = "gemini-2.0-flash"
    # Providers tried, in order, after the requested model's own provider (comma-separated).
    llm_fallback_chain: Annotated[tuple[str, ...], NoDecode] = ("gemini", "openai", "offline")
    allow_offline_fallback: bool = True
    # The model asked of a provider when it stands in for another.
    gemini_fallback_model: str = "gemini-2.0-flash"
    openai_fallback_model: str = "gpt-4o-mini"

    gemini_timeout_s: float = 30.0
    openai_timeout_s: float = 30.0
    llm_retry_attempts: int = 2
    llm_retry_backoff_s: float = 0.25
    llm_max_retry_after_s: float = 5.0
    llm_breaker_threshold: int = 5
    llm_breaker_cooldown_s: float = 30.0

    # JSON {"model": {"input": usd_per_mtok, "output": usd_per_mtok}} over the default prices.
    llm_prices: dict[str, dict[str, float]] = {}
    # JSON {"model": "provider"}: models added to the table (e.g. an OpenAI-compatible server's).
    llm_models: dict[str, str] = {}

    @field_validator("google_api_key", "openai_api_key", mode="after")
    @classmethod
    def _empty_key_is_none(cls, v: SecretStr | None) -> SecretStr | None:
        return v if v is not None and v.get_secret_value().strip() else None

    @field_validator("google_gemini_base_url", "openai_base_url", "google_genai_api_version", mode="after")
    @classmethod
    def _empty_is_none(cls, v: str | None) -> str | None:
        return v.strip() or None if v is not None else None

    @field_validator("llm_fallback_chain", mode="before")
    @classmethod
    def _split_chain(cls, v: object) -> object:
        if isinstance(v, str):
            v = tuple(p.strip().lower() for p in v.split(",") if p.strip())
        return v

    @field_validator("llm_fallback_chain", mode="after")
    @classmethod
    def _known_providers(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [p for p in v if p not in PROVIDERS]
        if unknown:
            raise ValueError(f"unknown provider(s) {unknown}; known: {', '.join(PROVIDERS)}")
        return v
