"""OpenAPI 3.1 from the route table: paths from the http rules, schemas from the descriptors.

Schemas follow the proto3 JSON mapping: lowerCamelCase names, 64-bit integers as strings, enums
by name, Struct as an object, Timestamp as a date-time string. Nothing here is written per RPC.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor

from labs_core.auth import policy_of
from services.gateway.transcoding.routes import Route

Schema = dict[str, Any]
_REF = "#/components/schemas/"
_VAR = re.compile(r"\{([^}=]+)(?:=[^}]*)?\}")
F = FieldDescriptor
_SCALARS: dict[int, Schema] = {
    F.TYPE_STRING: {"type": "string"},
    F.TYPE_BYTES: {"type": "string", "contentEncoding": "base64"},
    F.TYPE_BOOL: {"type": "boolean"},
    F.TYPE_DOUBLE: {"type": "number", "format": "double"},
    F.TYPE_FLOAT: {"type": "number", "format": "float"},
    F.TYPE_INT32: {"type": "integer", "format": "int32"},
    F.TYPE_SINT32: {"type": "integer", "format": "int32"},
    F.TYPE_SFIXED32: {"type": "integer", "format": "int32"},
    F.TYPE_UINT32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    F.TYPE_FIXED32: {"type": "integer", "format": "int64", "minimum": 0, "maximum": 4294967295},
    # proto3 JSON prints 64-bit integers as strings (and accepts numbers).
    F.TYPE_INT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    F.TYPE_SINT64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    F.TYPE_SFIXED64: {"type": "string", "format": "int64", "pattern": "^-?[0-9]+$"},
    F.TYPE_UINT64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
    F.TYPE_FIXED64: {"type": "string", "format": "uint64", "pattern": "^[0-9]+$"},
}
_WELL_KNOWN: dict[str, Schema] = {
    "google.protobuf.Struct": {"type": "object", "additionalProperties": True},
    "google.protobuf.Value": {"description": "any JSON value"},
    "google.protobuf.ListValue": {"type": "array", "items": {}},
    "google.protobuf.Timestamp": {"type": "string", "format": "date-time"},
    "google.protobuf.Duration": {"type": "string", "pattern": "^-?[0-9]+(\\.[0-9]+)?s$"},
    "google.protobuf.FieldMask": {"type": "string"},
    "google.protobuf.Empty": {"type": "object"},
    "google.protobuf.Any": {
        "type": "object",
        "properties": {"@type": {"type": "string"}},
        "required": ["@type"],
        "additionalProperties": True,
    },
    "google.protobuf.DoubleValue": {"type": ["number", "null"]},
    "google.protobuf.FloatValue": {"type": ["number", "null"]},
    "google.protobuf.Int32Value": {"type": ["integer", "null"]},
    "google.protobuf.UInt32Value": {"type": ["integer", "null"]},
    "google.protobuf.Int64Value": {"type": ["string", "null"]},
    "google.protobuf.UInt64Value": {"type": ["string", "null"]},
    "google.protobuf.BoolValue": {"type": ["boolean", "null"]},
    "google.protobuf.StringValue": {"type": ["string", "null"]},
    "google.protobuf.BytesValue": {"type": ["string", "null"]},
}
ERROR_SCHEMA = "google.rpc.Status"


def openapi_path(template_source: str) -> str:
    """`/api/{name=tools/*}` -> `/api/{name}`."""
    return _VAR.sub(lambda m: "{" + m.group(1) + "}", template_source)


class SchemaBuilder:
    """Component schemas for message and enum types, built on demand."""

    def __init__(self) -> None:
        self.components: dict[str, Schema] = {}

    def ref(self, name: str) -> Schema:
        """A reference to a component."""
        return {"$ref": _REF + name}

    def message(self, desc: Descriptor) -> Schema:
        """The schema of a message type (a $ref, or inline for a well-known type)."""
        wk = _WELL_KNOWN.get(desc.full_name)
        if wk is not None:
            return dict(wk)
        if desc.full_name not in self.components:
            # Registered before its fields are walked, so a type that contains itself gets a $ref.
            self.components[desc.full_name] = {}
            props = {fd.json_name: self.field(fd) for fd in desc.fields}
            self.components[desc.full_name] = {
                "type": "object",
                "properties": props,
                "additionalProperties": False,
            }
        return self.ref(desc.full_name)

    def enum(self, desc: EnumDescriptor) -> Schema:
        """An enum as its value names."""
        if desc.full_name not in self.components:
            self.components[desc.full_name] = {"type": "string", "enum": [v.name for v in desc.values]}
        return self.ref(desc.full_name)

    def value(self, fd: FieldDescriptor) -> Schema:
        """The schema of one value of a field (ignoring repetition)."""
        if fd.message_type is not None:
            return self.message(fd.message_type)
        if fd.enum_type is not None:
            return self.enum(fd.enum_type)
        return dict(_SCALARS[fd.type])

    def field(self, fd: FieldDescriptor) -> Schema:
        """The schema of a field, with repetition and maps."""
        mt = fd.message_type
        if mt is not None and mt.GetOptions().map_entry:
            return {"type": "object", "additionalProperties": self.value(mt.fields_by_name["value"])}
        if fd.is_repeated:
            return {"type": "array", "items": self.value(fd)}
        return self.value(fd)


def _query_params(
    desc: Descriptor, skip: set[str], sb: SchemaBuilder, prefix: str = "", depth: int = 0
) -> list[Schema]:
    params: list[Schema] = []
    for fd in desc.fields:
        path = prefix + fd.name
        if path in skip:
            continue
        mt = fd.message_type
        if mt is not None and mt.full_name not in ("google.protobuf.Timestamp", "google.protobuf.Duration"):
            if mt.GetOptions().map_entry or mt.full_name in _WELL_KNOWN or fd.is_repeated or depth >= 3:
                continue
            params += _query_params(mt, skip, sb, path + ".", depth + 1)
            continue
        schema = sb.field(fd)
        params.append(
            {
                "name": prefix + fd.json_name if not prefix else path,
                "in": "query",
                "required": False,
                "schema": schema,
                **({"explode": True} if fd.is_repeated else {}),
            }
        )
    return params


def _operation(route: Route, sb: SchemaBuilder, op_ids: set[str]) -> Schema:
    method = route.method
    policy = policy_of(method)
    req: Descriptor = method.input_type
    resp: Descriptor = method.output_type
    path_fields = {v.name for v in route.template.variables}
    params: list[Schema] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in sorted(path_fields)
    ]
    body_schema: Schema | None = None
    if route.body == "*":
        body_schema = sb.message(req)
    elif route.body:
        fd = req.fields_by_name[route.body]
        body_schema = sb.field(fd)
        params += _query_params(req, path_fields | {route.body}, sb)
    else:
        params += _query_params(req, path_fields, sb)
    if route.response_body and route.response_body != "*":
        out_schema = sb.field(resp.fields_by_name[route.response_body])
    else:
        out_schema = sb.message(resp)
    if method.server_streaming:
        content = {
            "application/x-ndjson": {
                "schema": {
                    "type": "object",
                    "properties": {"result": out_schema, "error": sb.ref(ERROR_SCHEMA)},
                }
            },
            "text/event-stream": {
                "schema": {
                    "type": "string",
                    "description": "events `result` (data: the item), `error`, `end`",
                }
            },
        }
        ok = {
            "description": "a stream of results (NDJSON, or server-sent events with Accept: text/event-stream)",
            "content": content,
        }
    else:
        ok = {"description": "OK", "content": {"application/json": {"schema": out_schema}}}
    error = {
        "description": "a google.rpc.Status",
        "content": {"application/json": {"schema": sb.ref(ERROR_SCHEMA)}},
    }
    responses: dict[str, Any] = {"200": ok}
    if not policy.public:
        responses["401"] = {**error, "description": "no API key, or an unknown one"}
        responses["403"] = {**error, "description": "the key's role lacks the permission"}
        responses["429"] = {
            **error,
            "description": "rate limited",
            "headers": {"Retry-After": {"schema": {"type": "integer"}}},
        }
    responses["default"] = error
    base = f"{method.containing_service.name}_{method.name}"
    op_id, n = base, 1
    while op_id in op_ids:
        n += 1
        op_id = f"{base}{n}"
    op_ids.add(op_id)
    extra = "".join(f"; {r.permission} when {r.field} is {', '.join(sorted(r.values))}" for r in policy.rules)
    op: Schema = {
        "operationId": op_id,
        "tags": [method.containing_service.full_name],
        "summary": method.name,
        "description": f"gRPC `{method.full_name}`; permission `{policy.permission}`{extra}.",
        "x-labs-permission": policy.permission,
        "parameters": params,
        "responses": responses,
        "security": [] if policy.public else [{"bearerAuth": []}],
    }
    if body_schema is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body_schema}}}
    return op


def build_document(
    routes: Sequence[Route], *, title: str = "Labs Agent Runtime API", version: str = "1"
) -> Schema:
    """The OpenAPI 3.1 document of the routes."""
    from google.rpc import status_pb2

    sb = SchemaBuilder()
    sb.message(status_pb2.Status.DESCRIPTOR)
    paths: dict[str, dict[str, Any]] = {}
    op_ids: set[str] = set()
    for route in routes:
        verb = route.http_method.lower()
        if verb not in ("get", "put", "post", "delete", "patch", "head", "options", "trace"):
            continue
        paths.setdefault(openapi_path(route.template.source), {})[verb] = _operation(route, sb, op_ids)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "Generated at start-up from the protos' google.api.http and labs.api.v1 options.",
        },
        "paths": paths,
        "components": {
            "schemas": dict(sorted(sb.components.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "description": "an API key"}
            },
        },
        "security": [{"bearerAuth": []}],
    }
