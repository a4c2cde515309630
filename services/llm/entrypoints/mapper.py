"""The one place where protobuf meets the llm domain values."""

from __future__ import annotations

from labs.llm.v1 import llm_service_pb2 as pb

from services.llm.domain.model import GenerateRequest, Generation, ModelStatus

_UINT32_MAX = 2**32 - 1


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
    )


def generate_response(g: Generation) -> pb.GenerateResponse:
    """Domain generation -> GenerateResponse (protobuf)."""
    return pb.GenerateResponse(
        text=g.text,
        provider=g.provider,
        model=g.model,
        usage=pb.Usage(
            input_tokens=_u32(g.usage.input_tokens),
            output_tokens=_u32(g.usage.output_tokens),
            estimated=g.usage.estimated,
        ),
        cost_usd=g.cost_usd,
        fallbacks=list(g.fallbacks),
        finish_reason=g.finish_reason,
        latency_us=_u32(g.latency_us),
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


def _u32(n: int) -> int:
    return max(0, min(n, _UINT32_MAX))
