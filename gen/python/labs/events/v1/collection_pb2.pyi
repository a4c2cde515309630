from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CollectionItem(_message.Message):
    __slots__ = ("item_id", "title", "score", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    item_id: str
    title: str
    score: float
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, item_id: _Optional[str] = ..., title: _Optional[str] = ..., score: _Optional[float] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class CollectionCreated(_message.Message):
    __slots__ = ("collection_id", "name", "owner", "description", "idempotency_key")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    name: str
    owner: str
    description: str
    idempotency_key: str
    def __init__(self, collection_id: _Optional[str] = ..., name: _Optional[str] = ..., owner: _Optional[str] = ..., description: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CollectionItemAdded(_message.Message):
    __slots__ = ("collection_id", "items", "idempotency_key")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    items: _containers.RepeatedCompositeFieldContainer[CollectionItem]
    idempotency_key: str
    def __init__(self, collection_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[CollectionItem, _Mapping]]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CollectionItemRemoved(_message.Message):
    __slots__ = ("collection_id", "item_ids", "idempotency_key")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    idempotency_key: str
    def __init__(self, collection_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class CollectionReordered(_message.Message):
    __slots__ = ("collection_id", "item_ids", "ranked_by", "idempotency_key")
    COLLECTION_ID_FIELD_NUMBER: _ClassVar[int]
    ITEM_IDS_FIELD_NUMBER: _ClassVar[int]
    RANKED_BY_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    collection_id: str
    item_ids: _containers.RepeatedScalarFieldContainer[str]
    ranked_by: str
    idempotency_key: str
    def __init__(self, collection_id: _Optional[str] = ..., item_ids: _Optional[_Iterable[str]] = ..., ranked_by: _Optional[str] = ..., idempotency_key: _Optional[str] = ...) -> None: ...
