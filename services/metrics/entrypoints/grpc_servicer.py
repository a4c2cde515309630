"""The metrics part of the public AgentService: GetMetrics only (the gateway routes nothing else here)."""

from __future__ import annotations

import logging

import grpc
from labs.agents.v1 import agent_service_pb2, agent_service_pb2_grpc

from labs_core.grpcutil import domain_errors, time_left
from services.metrics.adapters.rollup_reader import MetricsStoreUnavailable
from services.metrics.handlers.queries import GetMetrics
from services.metrics.mapper import to_response

log = logging.getLogger(__name__)

SERVICE_NAME = "labs.agents.v1.AgentService"


class MetricsServicer(agent_service_pb2_grpc.AgentServiceServicer):
    """Serves GetMetrics; every other AgentService method stays UNIMPLEMENTED."""

    def __init__(self, get_metrics: GetMetrics) -> None:
        self.get_metrics = get_metrics

    @domain_errors
    async def GetMetrics(
        self, request: agent_service_pb2.GetMetricsRequest, context: grpc.aio.ServicerContext
    ) -> agent_service_pb2.GetMetricsResponse:
        """Figures per agent type and in total for a period, from the rollups.

        A store that cannot answer is UNAVAILABLE, through the shared mapping of `domain_errors`.
        """
        try:
            report = await self.get_metrics(
                request.period, request.agent_type, timeout=time_left(context, 10.0)
            )
        except MetricsStoreUnavailable as e:
            log.warning("GetMetrics: %s", e)
            raise
        return to_response(report)
