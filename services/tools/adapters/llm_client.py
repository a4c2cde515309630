"""The llm service's Generate over gRPC (labs.llm.v1), as plain values."""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from labs.llm.v1 import llm_service_pb2, llm_service_pb2_grpc

from labs_core import grpcutil
from labs_core.auth import InternalAuth
from labs_core.errors import Unavailable
from services.tools.domain.errors import ToolsError


class ModelUnavailable(ToolsError, Unavailable):
    """The llm service could not answer (UNAVAILABLE; retryable)."""

    retryable = True


@dataclass(frozen=True, slots=True)
class Generated:
    """A model's answer with its usage and cost."""

    text: str
    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    finish_reason: str


class LlmClient:
    """One channel to the llm service; `close` when done."""

    def __init__(self, addr: str, auth: InternalAuth) -> None:
        self.addr = addr
        self._channel = grpcutil.channel(addr, auth=auth)
        self._stub = llm_service_pb2_grpc.LlmServiceStub(self._channel)

    async def generate(
        self,
        prompt: str,
        *,
        system: str,
        max_output_tokens: int,
        temperature: float | None,
        execution_id: str,
        timeout_s: float,
    ) -> Generated:
        """Ask the model; UNAVAILABLE-like failures become ModelUnavailable."""
        req = llm_service_pb2.GenerateRequest(
            prompt=prompt, system=system, max_output_tokens=max_output_tokens, execution_id=execution_id
        )
        if temperature is not None:
            req.temperature = temperature
        try:
            r = await self._stub.Generate(req, timeout=timeout_s)
        except grpc.aio.AioRpcError as e:
            raise ModelUnavailable(f"llm service at {self.addr}: {e.code().name}: {e.details()}") from e
        return Generated(
            r.text,
            r.provider,
            r.model,
            r.usage.input_tokens,
            r.usage.output_tokens,
            r.cost_usd,
            r.finish_reason,
        )

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()
