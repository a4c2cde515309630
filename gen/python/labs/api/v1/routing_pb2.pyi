from google.protobuf import descriptor_pb2 as _descriptor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor
DEFAULT_BACKEND_FIELD_NUMBER: _ClassVar[int]
default_backend: _descriptor.FieldDescriptor
BACKEND_FIELD_NUMBER: _ClassVar[int]
backend: _descriptor.FieldDescriptor
PERMISSION_FIELD_NUMBER: _ClassVar[int]
permission: _descriptor.FieldDescriptor
PERMISSION_RULES_FIELD_NUMBER: _ClassVar[int]
permission_rules: _descriptor.FieldDescriptor
RULES_FIELD_NUMBER: _ClassVar[int]
rules: _descriptor.FieldDescriptor

class PermissionRule(_message.Message):
    __slots__ = ("field", "values", "permission")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    VALUES_FIELD_NUMBER: _ClassVar[int]
    PERMISSION_FIELD_NUMBER: _ClassVar[int]
    field: str
    values: _containers.RepeatedScalarFieldContainer[str]
    permission: str
    def __init__(self, field: _Optional[str] = ..., values: _Optional[_Iterable[str]] = ..., permission: _Optional[str] = ...) -> None: ...

class FieldRules(_message.Message):
    __slots__ = ("required", "min_len", "max_len", "pattern", "gte", "lte")
    REQUIRED_FIELD_NUMBER: _ClassVar[int]
    MIN_LEN_FIELD_NUMBER: _ClassVar[int]
    MAX_LEN_FIELD_NUMBER: _ClassVar[int]
    PATTERN_FIELD_NUMBER: _ClassVar[int]
    GTE_FIELD_NUMBER: _ClassVar[int]
    LTE_FIELD_NUMBER: _ClassVar[int]
    required: bool
    min_len: int
    max_len: int
    pattern: str
    gte: float
    lte: float
    def __init__(self, required: _Optional[bool] = ..., min_len: _Optional[int] = ..., max_len: _Optional[int] = ..., pattern: _Optional[str] = ..., gte: _Optional[float] = ..., lte: _Optional[float] = ...) -> None: ...
