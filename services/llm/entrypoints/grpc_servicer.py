"""LlmService over gRPC: protobuf in, a call to the proxy, protobuf out."""

from __future__ import annotations

import contextlib

import grpc
from google.protobuf import duration_pb2
from google.rpc import error_details_pb2
from labs.llm.v1 import llm_service_pb2 as pb
from labs.llm.v1 import llm_service_pb2_grpc

from labs_core.grpcutil import abort_with, domain_errors, status_code_for
from services.llm.domain.errors import AllProvidersFailed, StreamInterrupted
from services.llm.entrypoints import mapper
from services.llm.handlers.proxy import ModelProxy

ERROR_DOMAIN = "llm.labs"


class LlmServicer(llm_service_pb2_grpc.LlmServiceServicer):
    """Thin servicer over ModelProxy."""

    def __init__(self, proxy: ModelProxy) -> None:
        self._proxy = proxy

    @domain_errors
    async def Generate(
        self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> pb.GenerateResponse:
        """Generate an answer; UNAVAILABLE, with each provider's reason, when none could."""
        try:
            generation = await self._proxy.generate(
                mapper.generate_request(request), budget_s=context.time_remaining()
            )
        except AllProvidersFailed as e:
            # The shared mapping gives the code; only the typed details are added here.
            await abort_with(context, status_code_for(e), str(e), _unavailable_details(e))
            raise  # abort_with raises; this line only satisfies the type checker
        return mapper.generate_response(generation)

    @domain_errors
    async def GenerateStream(self, request: pb.GenerateRequest, context: grpc.aio.ServicerContext) -> None:
        """Text pieces, then the final message; a client that goes away cancels the provider's stream."""
        stream = self._proxy.generate_stream(
            mapper.generate_request(request), budget_s=context.time_remaining()
        )
        try:
            async with contextlib.aclosing(stream):
                async for item in stream:
                    if isinstance(item, str):
                        await context.write(pb.GenerateStreamResponse(text=item))
                    else:
                        await context.write(pb.GenerateStreamResponse(done=mapper.generate_response(item)))
        except AllProvidersFailed as e:
            await abort_with(context, status_code_for(e), str(e), _unavailable_details(e))
        except StreamInterrupted as e:
            await abort_with(context, status_code_for(e), f"the model's stream broke off: {e}", [])

    @domain_errors
    async def ListModels(
        self, request: pb.ListModelsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListModelsResponse:
        """The configured models, their provider, availability and prices."""
        return mapper.list_models_response(self._proxy.list_models(), self._proxy.catalog.default_model)


def _unavailable_details(
    e: AllProvidersFailed,
) -> list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo]:
    metadata = dict(f.split(": ", 1) for f in e.failures if ": " in f)
    details: list[error_details_pb2.ErrorInfo | error_details_pb2.RetryInfo] = [
        error_details_pb2.ErrorInfo(reason="ALL_PROVIDERS_FAILED", domain=ERROR_DOMAIN, metadata=metadata)
    ]
    if e.retry_after_s is not None:
        delay = duration_pb2.Duration()
        delay.FromNanoseconds(int(e.retry_after_s * 1e9))
        details.append(error_details_pb2.RetryInfo(retry_delay=delay))
    return details
