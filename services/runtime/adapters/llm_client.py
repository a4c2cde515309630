"""gRPC client of the llm service."""

from __future__ import annotations

import grpc
from labs.llm.v1 import llm_service_pb2, llm_service_pb2_grpc

from labs_core.auth import InternalAuth
from labs_core.grpcutil import channel
from labs_core.structs import dict_to_struct, struct_to_dict
from services.runtime.domain.calls import AiAnswer, ChatMessage, ToolRequest, ToolSpec
from services.runtime.domain.errors import AgentError, InputInvalid, ModelUnavailable


class LlmClient:
    """Asks models through the llm service."""

    def __init__(self, addr: str, auth: InternalAuth) -> None:
        self._channel = channel(addr, auth=auth)
        self._stub = llm_service_pb2_grpc.LlmServiceStub(self._channel)

    async def generate(
        self,
        prompt: str,
        *,
        system: str,
        model: str,
        temperature: float | None,
        max_output_tokens: int,
        json_mode: bool,
        execution_id: str,
        timeout: float,
        messages: tuple[ChatMessage, ...] = (),
        tools: tuple[ToolSpec, ...] = (),
    ) -> AiAnswer:
        """One answer (maybe tool calls); raises ModelUnavailable (retryable) or InputInvalid."""
        req = llm_service_pb2.GenerateRequest(
            model=model,
            prompt=prompt,
            system=system,
            max_output_tokens=max_output_tokens,
            json_mode=json_mode,
            execution_id=execution_id,
        )
        for m in messages:
            pm = req.messages.add(role=m.role, text=m.text, tool_call_id=m.tool_call_id)
            for tc in m.tool_calls:
                dict_to_struct(tc.arguments, pm.tool_calls.add(id=tc.id, name=tc.name).arguments)
            if m.tool_result is not None:
                dict_to_struct(m.tool_result, pm.tool_result)
        for t in tools:
            dict_to_struct(t.parameters, req.tools.add(name=t.name, description=t.description).parameters)
        if temperature is not None:
            req.temperature = temperature
        try:
            r = await self._stub.Generate(req, timeout=timeout)
        except grpc.aio.AioRpcError as e:
            err: AgentError
            if e.code() == grpc.StatusCode.INVALID_ARGUMENT:
                err = InputInvalid(f"model call: {e.details()}", field="model")
            else:
                err = ModelUnavailable(f"model call: {e.code().name}: {e.details()}")
            raise err from e
        calls = tuple(ToolRequest(c.id, c.name, struct_to_dict(c.arguments)) for c in r.tool_calls)
        return AiAnswer(
            r.text, r.provider, r.model, r.usage.input_tokens, r.usage.output_tokens, r.cost_usd, calls
        )

    async def close(self) -> None:
        """Close the channel."""
        await self._channel.close()
