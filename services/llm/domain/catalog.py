"""The model table: which provider serves which model, at what price, and the default model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.llm.domain.errors import UnknownModel
from services.llm.domain.model import FREE, GEMINI, OFFLINE, OPENAI, PROVIDERS, ModelSpec, Price

OFFLINE_MODEL = "offline"

# List prices in USD per million tokens (text, standard tier) as published by the providers;
# override them with LLM_PRICES when they change or a contract differs.
DEFAULT_MODELS: tuple[ModelSpec, ...] = (
    ModelSpec("gemini-2.0-flash", GEMINI, Price(0.10, 0.40)),
    ModelSpec("gemini-2.0-flash-lite", GEMINI, Price(0.075, 0.30)),
    ModelSpec("gemini-2.5-flash", GEMINI, Price(0.30, 2.50)),
    ModelSpec("gemini-2.5-flash-lite", GEMINI, Price(0.10, 0.40)),
    ModelSpec("gemini-2.5-pro", GEMINI, Price(1.25, 10.00)),
    ModelSpec("gemini-1.5-flash", GEMINI, Price(0.075, 0.30)),
    ModelSpec("gemini-1.5-pro", GEMINI, Price(1.25, 5.00)),
    ModelSpec("gemini-pro", GEMINI, Price(0.50, 1.50)),
    ModelSpec("gpt-4o-mini", OPENAI, Price(0.15, 0.60)),
    ModelSpec("gpt-4o", OPENAI, Price(2.50, 10.00)),
    ModelSpec("gpt-4.1", OPENAI, Price(2.00, 8.00)),
    ModelSpec("gpt-4.1-mini", OPENAI, Price(0.40, 1.60)),
    ModelSpec("gpt-4.1-nano", OPENAI, Price(0.10, 0.40)),
    ModelSpec("gpt-3.5-turbo", OPENAI, Price(0.50, 1.50)),
    ModelSpec(OFFLINE_MODEL, OFFLINE, FREE),
)


class CatalogError(ValueError):
    """The model table built from the settings is inconsistent (raised at start-up)."""


@dataclass(frozen=True)
class ModelCatalog:
    """An immutable model table with its default model."""

    models: Mapping[str, ModelSpec]
    default_model: str

    @classmethod
    def build(
        cls,
        default_model: str,
        *,
        extra_models: Mapping[str, str] | None = None,
        prices: Mapping[str, Mapping[str, float]] | None = None,
    ) -> ModelCatalog:
        """The default table plus `extra_models` (name -> provider), re-priced by `prices`."""
        table = {m.name: m for m in DEFAULT_MODELS}
        for name, provider in (extra_models or {}).items():
            if provider not in PROVIDERS:
                raise CatalogError(f"LLM_MODELS: {name}: unknown provider {provider!r}")
            old = table.get(name)
            table[name] = ModelSpec(name, provider, old.price if old else FREE)
        for name, p in (prices or {}).items():
            spec = table.get(name)
            if spec is None:
                raise CatalogError(f"LLM_PRICES: {name}: not in the model table (add it with LLM_MODELS)")
            try:
                price = Price(float(p["input"]), float(p["output"]))
            except (KeyError, TypeError, ValueError) as e:
                raise CatalogError(f"LLM_PRICES: {name}: want {{'input': x, 'output': y}}, got {p!r}") from e
            table[name] = ModelSpec(name, spec.provider, price)
        if default_model not in table:
            raise CatalogError(f"DEFAULT_AI_MODEL: {default_model!r} is not in the model table")
        return cls(table, default_model)

    def resolve(self, name: str) -> ModelSpec:
        """The spec of `name` (the default model when empty); UnknownModel otherwise."""
        spec = self.models.get(name or self.default_model)
        if spec is None:
            raise UnknownModel(name, sorted(self.models))
        return spec

    def price(self, name: str) -> Price:
        """The price of a model (free when the model is not in the table)."""
        spec = self.models.get(name)
        return spec.price if spec else FREE
