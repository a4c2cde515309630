"""The llm package's errors: one root, and the few the servicer maps to status codes."""

from __future__ import annotations

from labs_core import errors
from services.llm.domain.model import Usage


class LlmError(errors.LabsError):
    """Root of every error raised by the llm service."""


class BadRequest(LlmError, errors.InvalidArgument):
    """A request field is wrong (maps to INVALID_ARGUMENT naming the field)."""


class UnknownModel(BadRequest):
    """The request names a model that is not in the model table."""

    def __init__(self, model: str, known: list[str]) -> None:
        super().__init__("model", f"unknown model {model!r}; known models: {', '.join(known)}")
        self.model = model


class ProviderError(LlmError):
    """One provider failed one call; `reason` is short ("429", "timeout") and goes into `fallbacks`."""

    def __init__(
        self,
        provider: str,
        reason: str,
        *,
        retryable: bool = False,
        trips_breaker: bool = True,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        # Worth trying the same provider again after a pause.
        self.retryable = retryable
        # Says something about the provider's health (not about this one request).
        self.trips_breaker = trips_breaker
        # The provider's own hint (Retry-After, google.rpc.RetryInfo), in seconds.
        self.retry_after_s = retry_after_s


class AllProvidersFailed(LlmError, errors.Unavailable):
    """No provider in the chain could answer (maps to UNAVAILABLE listing every reason)."""

    def __init__(self, failures: tuple[str, ...], retry_after_s: float | None = None) -> None:
        super().__init__(
            "no model provider could answer: " + ("; ".join(failures) or "no provider configured")
        )
        self.failures = failures
        self.retry_after_s = retry_after_s


class ExtractionFailed(LlmError, errors.FailedPrecondition):
    """Parameter extraction: the answer was still invalid after one repair (FAILED_PRECONDITION)."""

    def __init__(
        self, error: str, *, provider: str, model: str, usage: Usage, fallbacks: tuple[str, ...]
    ) -> None:
        super().__init__(f"json_schema: the model's answer is not valid after one repair: {error}")
        self.error = error
        self.provider = provider
        self.model = model
        # Usage of both attempts, for the recorded event.
        self.usage = usage
        self.fallbacks = fallbacks


class StreamInterrupted(LlmError, errors.Unavailable):
    """The provider failed after the first piece was sent: no fallback is possible (UNAVAILABLE)."""
