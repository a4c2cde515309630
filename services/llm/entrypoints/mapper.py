"""The one place where protobuf meets the llm domain values."""

from __future__ import annotations

from labs.llm.v1 import llm_service_pb2 as pb

from labs_core.structs import dict_to_struct, py_to_value, struct_to_dict
from services.llm.domain.model import (
    AUTO,
    GenerateRequest,
    Generation,
    Message,
    ModelStatus,
    Tool,
    ToolCall,
    clamp_u32,
)


def generate_request(req: pb.GenerateRequest) -> GenerateRequest:
    """GenerateRequest (protobuf) -> domain request."""
    return GenerateRequest(
        prompt=req.prompt,
        model=req.model.strip(),
        system=req.system,
        temperature=req.temperature if req.HasField("temperature") else None,
        max_output_tokens=req.max_output_tokens or None,
        stop=tuple(req.stop),
        json_mode=req.json_mode,
        execution_id=req.execution_id,
        messages=tuple(
            Message(
                role=m.role.strip().lower(),
                text=m.text,
                tool_calls=tuple(_tool_call(c) for c in m.tool_calls),
                tool_call_id=m.tool_call_id,
                tool_result=struct_to_dict(m.tool_result) if m.HasField("tool_result") else None,
            )
            for m in req.messages
        ),
        tools=tuple(
            Tool(
                t.name,
                t.description,
                struct_to_dict(t.parameters) if t.parameters.fields else {"type": "object", "properties": {}},
            )
            for t in req.tools
        ),
        tool_choice=req.tool_choice.strip().lower() or AUTO,
        json_schema=struct_to_dict(req.json_schema) if req.HasField("json_schema") else None,
    )


def _tool_call(c: pb.ToolCall) -> ToolCall:
    return ToolCall(c.id, c.name, struct_to_dict(c.arguments))


def generate_response(g: Generation) -> pb.GenerateResponse:
    """Domain generation -> GenerateResponse (protobuf)."""
    return pb.GenerateResponse(
        text=g.text,
        provider=g.provider,
        model=g.model,
        usage=pb.Usage(
            input_tokens=clamp_u32(g.usage.input_tokens),
            output_tokens=clamp_u32(g.usage.output_tokens),
            estimated=g.usage.estimated,
        ),
        cost_usd=g.cost_usd,
        fallbacks=list(g.fallbacks),
        finish_reason=g.finish_reason,
        latency_us=clamp_u32(g.latency_us),
        tool_calls=[
            pb.ToolCall(id=c.id, name=c.name, arguments=dict_to_struct(c.arguments)) for c in g.tool_calls
        ],
        json=py_to_value(g.json) if g.has_json else None,
        call_id=g.call_id,
    )


def list_models_response(models: list[ModelStatus], default_model: str) -> pb.ListModelsResponse:
    """Model statuses -> ListModelsResponse (protobuf)."""
    return pb.ListModelsResponse(
        models=[
            pb.Model(
                name=m.spec.name,
                provider=m.spec.provider,
                available=m.available,
                input_price_per_mtok=m.spec.price.input_per_mtok,
                output_price_per_mtok=m.spec.price.output_per_mtok,
            )
            for m in models
        ],
        default_model=default_model,
    )
