"""Market tools: search listings, analyse a category's prices, create a listing."""

from __future__ import annotations

from typing import Any

from services.tools.domain.commands import CreateListing
from services.tools.domain.errors import ArgumentsInvalid, FieldViolation
from services.tools.domain.listings import (
    CURRENCIES,
    FLAT_TREND_PCT_PER_DAY,
    LISTING_CATEGORIES,
    SORTS,
    STATUSES,
    ListingQuery,
    to_cents,
)
from services.tools.domain.registry import JSONObject, Memo, Registry, ToolContext, ToolDefinition
from services.tools.service_layer.listings import ListingService

VERSION = "1.0.0"

LISTING_SCHEMA: JSONObject = {
    "type": "object",
    "required": [
        "id",
        "seller",
        "title",
        "category",
        "price",
        "price_cents",
        "currency",
        "status",
        "created_at",
    ],
    "properties": {
        "id": {"type": "string"},
        "seller": {"type": "string"},
        "title": {"type": "string"},
        "description": {"type": "string"},
        "category": {"type": "string"},
        "price": {"type": "number", "description": "Price in currency units."},
        "price_cents": {"type": "integer"},
        "currency": {"type": "string"},
        "status": {"enum": list(STATUSES)},
        "attributes": {"type": "object", "additionalProperties": {"type": "string"}},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}

#: The fields `get_listings` may be asked for (`fields`): the listing schema's properties.
LISTING_FIELDS: list[str] = list(LISTING_SCHEMA["properties"])
SPARSE_LISTING_SCHEMA: JSONObject = {
    "type": "object",
    "minProperties": 1,
    "properties": LISTING_SCHEMA["properties"],
    "additionalProperties": False,
}

GET_LISTINGS = ToolDefinition(
    name="get_listings",
    version=VERSION,
    description=(
        "Search marketplace listings by category, price range (currency units), status, seller and "
        "free text; sorted and paginated (limit/offset or page_token). `fields` returns only the listing "
        "fields named (e.g. id, title, price)."
    ),
    category="market",
    extra_agent_types=frozenset({"ANALYTICS"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "category": {"enum": list(LISTING_CATEGORIES)},
            "status": {"enum": list(STATUSES)},
            "min_price": {"type": "number", "minimum": 0},
            "max_price": {"type": "number", "minimum": 0},
            "query": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "Words or a phrase.",
            },
            "seller": {"type": "string", "minLength": 1},
            "sort": {"enum": list(SORTS), "default": "newest"},
            "limit": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
            "offset": {"type": "integer", "minimum": 0, "default": 0},
            "page_token": {"type": "string", "description": "next_page_token of the previous page."},
            "fields": {
                "type": "array",
                "minItems": 1,
                "items": {"enum": LISTING_FIELDS},
                "description": 'Return only these listing fields (sparse fieldset), e.g. ["id", "title", "price"].',
            },
        },
    },
    result={
        "type": "object",
        "required": ["listings", "total"],
        "properties": {
            # Every listing field unless `fields` names some: the listing schema without `required`.
            "listings": {"type": "array", "items": SPARSE_LISTING_SCHEMA},
            "total": {"type": "integer", "minimum": 0},
            "next_page_token": {"type": "string"},
        },
    },
)

_NULLABLE_NUMBER = {"type": ["number", "null"]}

ANALYZE_MARKET_PRICE = ToolDefinition(
    name="analyze_market_price",
    version=VERSION,
    description=(
        "Price statistics (count, mean, median, p10, p90, min, max in currency units) of one category's "
        "listings listed within the window, and the trend of their prices: the least-squares slope per "
        f"day within listings; 'flat' while it is under {FLAT_TREND_PCT_PER_DAY}% of the mean price a day."
    ),
    category="market",
    extra_agent_types=frozenset({"ANALYTICS"}),
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["category"],
        "properties": {
            "category": {"enum": list(LISTING_CATEGORIES)},
            "window_days": {"type": "integer", "minimum": 1, "maximum": 365, "default": 30},
            "status": {"enum": list(STATUSES)},
            "currency": {"enum": list(CURRENCIES), "default": "USD"},
        },
    },
    result={
        "type": "object",
        "required": ["category", "window_days", "currency", "since", "until", "count", "trend"],
        "properties": {
            "category": {"type": "string"},
            "window_days": {"type": "integer"},
            "status": {"type": ["string", "null"]},
            "currency": {"type": "string"},
            "since": {"type": "string", "format": "date-time"},
            "until": {"type": "string", "format": "date-time"},
            "count": {"type": "integer", "minimum": 0},
            "mean": _NULLABLE_NUMBER,
            "median": _NULLABLE_NUMBER,
            "p10": _NULLABLE_NUMBER,
            "p90": _NULLABLE_NUMBER,
            "min": _NULLABLE_NUMBER,
            "max": _NULLABLE_NUMBER,
            "trend": {
                "type": "object",
                "required": ["direction", "slope_per_day", "points"],
                "properties": {
                    "direction": {"enum": ["rising", "falling", "flat"]},
                    "slope_per_day": _NULLABLE_NUMBER,
                    "pct_per_day": _NULLABLE_NUMBER,
                    "points": {"type": "integer", "minimum": 0},
                    "listings": {"type": "integer", "minimum": 0},
                    "flat_threshold_pct_per_day": {"type": "number"},
                },
            },
        },
    },
)

CREATE_LISTING = ToolDefinition(
    name="create_listing",
    version=VERSION,
    description=(
        "Create a marketplace listing. Idempotent: the same idempotency key returns the same listing. "
        "The listing is searchable as soon as the call returns."
    ),
    category="market",
    side_effects=True,
    parameters={
        "type": "object",
        "additionalProperties": False,
        "required": ["title", "category", "price"],
        "properties": {
            "title": {"type": "string", "minLength": 3, "maxLength": 140},
            "description": {"type": "string", "maxLength": 4000, "default": ""},
            "category": {"enum": list(LISTING_CATEGORIES)},
            "price": {"type": "number", "exclusiveMinimum": 0, "maximum": 10_000_000},
            "currency": {"enum": list(CURRENCIES), "default": "USD"},
            "seller": {"type": "string", "minLength": 1, "maxLength": 100},
            "attributes": {
                "type": "object",
                "maxProperties": 30,
                "additionalProperties": {"type": "string", "maxLength": 200},
            },
        },
    },
    result={
        "type": "object",
        "required": ["listing", "created"],
        "properties": {"listing": LISTING_SCHEMA, "created": {"type": "boolean"}},
    },
)


def _price_range(args: dict[str, Any]) -> tuple[int | None, int | None]:
    lo = to_cents(args["min_price"]) if "min_price" in args else None
    hi = to_cents(args["max_price"]) if "max_price" in args else None
    if lo is not None and hi is not None and lo > hi:
        raise ArgumentsInvalid(
            "get_listings", [FieldViolation("arguments.max_price", "must not be below min_price")]
        )
    return lo, hi


def register_market_tools(registry: Registry, listings: ListingService) -> None:
    """Register get_listings, analyze_market_price and create_listing, bound to `listings`."""

    async def get_listings(args: JSONObject, ctx: ToolContext) -> JSONObject:
        lo, hi = _price_range(args)
        query = ListingQuery(
            category=args.get("category"),
            status=args.get("status"),
            seller_id=args.get("seller"),
            text=args.get("query"),
            min_price_cents=lo,
            max_price_cents=hi,
            sort=args.get("sort", "newest"),
        )
        page = await listings.search(
            query,
            limit=args.get("limit", 20),
            offset=args.get("offset", 0),
            page_token=args.get("page_token", ""),
        )
        fields = args.get("fields")
        if fields:
            wanted = list(dict.fromkeys(fields))  # in the order asked, each once
            rows = [{f: full[f] for f in wanted} for full in (x.to_json() for x in page.listings)]
        else:
            rows = [x.to_json() for x in page.listings]
        out: JSONObject = {"listings": rows, "total": page.total}
        if page.next_cursor is not None:
            out["next_page_token"] = page.next_cursor.encode(query)
        return out

    async def analyze_market_price(args: JSONObject, ctx: ToolContext) -> JSONObject:
        window = args.get("window_days", 30)
        stats = await listings.market_stats(
            category=args["category"],
            window_days=window,
            status=args.get("status"),
            currency=args.get("currency", "USD"),
        )
        t = stats.trend
        return {
            "category": args["category"],
            "window_days": window,
            "status": args.get("status"),
            "currency": args.get("currency", "USD"),
            "since": stats.since.isoformat(),
            "until": stats.until.isoformat(),
            "count": stats.count,
            "mean": stats.mean,
            "median": stats.median,
            "p10": stats.p10,
            "p90": stats.p90,
            "min": stats.min,
            "max": stats.max,
            "trend": {
                "direction": t.direction,
                "slope_per_day": None if t.slope_per_day is None else round(t.slope_per_day, 6),
                "pct_per_day": None if t.pct_per_day is None else round(t.pct_per_day, 6),
                "points": t.points,
                "listings": t.listings,
                "flat_threshold_pct_per_day": FLAT_TREND_PCT_PER_DAY,
            },
        }

    async def create_listing(args: JSONObject, ctx: ToolContext) -> JSONObject:
        if to_cents(args["price"]) < 1:
            raise ArgumentsInvalid(
                "create_listing", [FieldViolation("arguments.price", "must be at least 0.01")]
            )
        cmd = CreateListing(
            idempotency_key=ctx.idempotency_key,
            seller_id=args.get("seller") or f"agent-{ctx.agent_type.lower()}",
            title=args["title"].strip(),
            description=args.get("description", ""),
            category=args["category"],
            price_cents=to_cents(args["price"]),
            currency=args.get("currency", "USD"),
            attributes=args.get("attributes", {}),
        )
        done = await listings.create(cmd, correlation_id=ctx.execution_id)
        return {"listing": done.listing.to_json(), "created": done.created}

    # Both answer from the listings read model only: memoised against its projection's checkpoint
    # (market figures, whose window ends "now", for at most market_stats_max_age_s as well).
    registry.add(GET_LISTINGS, get_listings, memo=Memo(lambda: listings.projector.checkpoint))
    registry.add(
        ANALYZE_MARKET_PRICE,
        analyze_market_price,
        memo=Memo(lambda: listings.projector.checkpoint, max_age_s=listings.market_stats_max_age_s),
    )
    registry.add(CREATE_LISTING, create_listing)
