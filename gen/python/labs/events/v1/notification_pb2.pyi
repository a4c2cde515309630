from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class NotificationSent(_message.Message):
    __slots__ = ("notification_id", "channel", "recipient", "subject", "body", "endpoint", "idempotency_key")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    RECIPIENT_FIELD_NUMBER: _ClassVar[int]
    SUBJECT_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    channel: str
    recipient: str
    subject: str
    body: str
    endpoint: str
    idempotency_key: str
    def __init__(self, notification_id: _Optional[str] = ..., channel: _Optional[str] = ..., recipient: _Optional[str] = ..., subject: _Optional[str] = ..., body: _Optional[str] = ..., endpoint: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class NotificationDelivered(_message.Message):
    __slots__ = ("notification_id", "attempts", "status_code", "duration_us")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    attempts: int
    status_code: int
    duration_us: int
    def __init__(self, notification_id: _Optional[str] = ..., attempts: _Optional[int] = ..., status_code: _Optional[int] = ..., duration_us: _Optional[int] = ...) -> None: ...

class NotificationDeliveryFailed(_message.Message):
    __slots__ = ("notification_id", "attempts", "status_code", "error", "duration_us")
    NOTIFICATION_ID_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    STATUS_CODE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DURATION_US_FIELD_NUMBER: _ClassVar[int]
    notification_id: str
    attempts: int
    status_code: int
    error: str
    duration_us: int
    def __init__(self, notification_id: _Optional[str] = ..., attempts: _Optional[int] = ..., status_code: _Optional[int] = ..., error: _Optional[str] = ..., duration_us: _Optional[int] = ...) -> None: ...
