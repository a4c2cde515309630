"""Protobuf <-> domain for the tools service (the one place that knows both)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from labs.tools.v1 import tool_service_pb2

from labs_core.structs import dict_to_struct
from services.tools.domain.registry import ToolDefinition


def tool_to_proto(d: ToolDefinition, out: tool_service_pb2.Tool | None = None) -> tool_service_pb2.Tool:
    """A tool definition as the wire's Tool."""
    t = out if out is not None else tool_service_pb2.Tool()
    t.name = d.name
    t.version = d.version
    t.description = d.description
    t.category = d.category
    dict_to_struct(d.parameters, t.parameters)
    dict_to_struct(d.result, t.result)
    t.side_effects = d.side_effects
    t.agent_types.extend(d.agent_types)
    return t


def notification_to_proto(
    r: Mapping[str, Any], out: tool_service_pb2.Notification | None = None
) -> tool_service_pb2.Notification:
    """A notifications row as the wire's Notification."""
    n = out if out is not None else tool_service_pb2.Notification()
    n.notification_id = r["id"]
    n.channel = r["channel"]
    n.recipient = r["recipient"]
    n.subject = r["subject"]
    n.body = r["body"]
    n.endpoint = r["endpoint"]
    n.status = r["status"]
    n.attempts = r["attempts"]
    n.error = r["error"]
    n.created_at.FromDatetime(r["created_at"])
    if r["delivered_at"] is not None:
        n.delivered_at.FromDatetime(r["delivered_at"])
    return n
