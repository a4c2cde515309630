from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class ListingCreated(_message.Message):
    __slots__ = ("listing_id", "seller_id", "title", "description", "category", "price_cents", "currency", "status", "attributes")
    class AttributesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LISTING_ID_FIELD_NUMBER: _ClassVar[int]
    SELLER_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    PRICE_CENTS_FIELD_NUMBER: _ClassVar[int]
    CURRENCY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    listing_id: str
    seller_id: str
    title: str
    description: str
    category: str
    price_cents: int
    currency: str
    status: str
    attributes: _containers.ScalarMap[str, str]
    def __init__(self, listing_id: _Optional[str] = ..., seller_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., category: _Optional[str] = ..., price_cents: _Optional[int] = ..., currency: _Optional[str] = ..., status: _Optional[str] = ..., attributes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListingPriceChanged(_message.Message):
    __slots__ = ("listing_id", "old_price_cents", "new_price_cents")
    LISTING_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_PRICE_CENTS_FIELD_NUMBER: _ClassVar[int]
    NEW_PRICE_CENTS_FIELD_NUMBER: _ClassVar[int]
    listing_id: str
    old_price_cents: int
    new_price_cents: int
    def __init__(self, listing_id: _Optional[str] = ..., old_price_cents: _Optional[int] = ..., new_price_cents: _Optional[int] = ...) -> None: ...

class ListingStatusChanged(_message.Message):
    __slots__ = ("listing_id", "old_status", "new_status")
    LISTING_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_STATUS_FIELD_NUMBER: _ClassVar[int]
    NEW_STATUS_FIELD_NUMBER: _ClassVar[int]
    listing_id: str
    old_status: str
    new_status: str
    def __init__(self, listing_id: _Optional[str] = ..., old_status: _Optional[str] = ..., new_status: _Optional[str] = ...) -> None: ...

class ListingDeleted(_message.Message):
    __slots__ = ("listing_id", "old_status")
    LISTING_ID_FIELD_NUMBER: _ClassVar[int]
    OLD_STATUS_FIELD_NUMBER: _ClassVar[int]
    listing_id: str
    old_status: str
    def __init__(self, listing_id: _Optional[str] = ..., old_status: _Optional[str] = ...) -> None: ...
