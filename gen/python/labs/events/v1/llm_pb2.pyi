from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ModelCallRecorded(_message.Message):
    __slots__ = ("provider", "model", "requested_model", "input_tokens", "output_tokens", "estimated", "cost_usd", "latency_us", "outcome", "error", "fallbacks", "streamed", "finish_reason", "tool_calls", "attempts")
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_MODEL_FIELD_NUMBER: _ClassVar[int]
    INPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    ESTIMATED_FIELD_NUMBER: _ClassVar[int]
    COST_USD_FIELD_NUMBER: _ClassVar[int]
    LATENCY_US_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    STREAMED_FIELD_NUMBER: _ClassVar[int]
    FINISH_REASON_FIELD_NUMBER: _ClassVar[int]
    TOOL_CALLS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    provider: str
    model: str
    requested_model: str
    input_tokens: int
    output_tokens: int
    estimated: bool
    cost_usd: float
    latency_us: int
    outcome: str
    error: str
    fallbacks: _containers.RepeatedScalarFieldContainer[str]
    streamed: bool
    finish_reason: str
    tool_calls: int
    attempts: int
    def __init__(self, provider: _Optional[str] = ..., model: _Optional[str] = ..., requested_model: _Optional[str] = ..., input_tokens: _Optional[int] = ..., output_tokens: _Optional[int] = ..., estimated: _Optional[bool] = ..., cost_usd: _Optional[float] = ..., latency_us: _Optional[int] = ..., outcome: _Optional[str] = ..., error: _Optional[str] = ..., fallbacks: _Optional[_Iterable[str]] = ..., streamed: _Optional[bool] = ..., finish_reason: _Optional[str] = ..., tool_calls: _Optional[int] = ..., attempts: _Optional[int] = ...) -> None: ...
