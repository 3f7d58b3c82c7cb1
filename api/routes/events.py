"""Event intake: `POST /v1/events` takes one event or a batch of up to 1,000.

Each event is validated against the events contract, appended once (idempotent by
`event_id`) to the events stream that `touchpoint ingest` drains, pushed onto the customer's
live recent history so the next request reflects it, and — for conversions carrying a
`recommendation_id` — attributed to what that recommendation served.
Two round trips: the idempotent append (one script), then history and attribution (one
pipeline) for the events that were new.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, TypeVar

import orjson
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from redis.exceptions import RedisError
from starlette.responses import Response

from api.deps import StateDep
from api.problems import Unavailable
from api.responses import OrjsonResponse
from api.services.experiments import record_conversions
from api.state import ServingState
from contracts.schema import RATING_RANGE
from store import events as intake
from store.attribution import attribute
from store.counters import record_redemptions
from store.recent import RecentEvent, append_events

router = APIRouter(prefix="/v1/events", tags=["events"])

MAX_BATCH = 1000
MAX_FUTURE = timedelta(days=1)  # clock skew tolerated on client timestamps
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Ids end up inside Redis keys and Parquet files: no braces (hash tags), spaces or controls.
Id = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^{}\s\x00-\x1f\x7f]+$")
]
OptionalId = Annotated[str, StringConstraints(max_length=128, pattern=r"^[^{}\s\x00-\x1f\x7f]*$")]
# Mirrors contracts.schema.EVENT_TYPES / CHANNELS (a test keeps them equal).
EventType = Literal[
    "view", "click", "add_to_cart", "purchase", "redeem", "dismiss", "impression", "rate"
]
Channel = Literal["web", "app", "email", "push", "store", "call_centre"]


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 string (naive = UTC) between 1970 and one day from now."""
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string")
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ValueError("not an ISO 8601 timestamp") from None
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    if ts < EPOCH or ts > datetime.now(UTC) + MAX_FUTURE:
        raise ValueError("must be between 1970 and one day from now")
    return ts


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class EventIn(BaseModel):
    """One interaction, as in the events table of the data contract."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id = Field(description="Unique id; a repeated id is a duplicate and ignored.")
    customer_id: Id
    item_id: Id
    type: EventType
    channel: Channel = "web"
    timestamp: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="ISO 8601; naive means UTC; default now.",
        json_schema_extra={"type": "string", "format": "date-time"},
    )
    order_id: OptionalId = ""
    quantity: int = Field(default=1, ge=0, le=1_000_000)
    value: float = Field(default=0.0, ge=-1e9, le=1e9, allow_inf_nan=False)
    recommendation_id: OptionalId = Field(
        default="", description="Set on events caused by a recommendation: attributed to it."
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: object) -> datetime:
        return parse_timestamp(value)

    # A `rate` event carries the rating as `value`, inside the contract's range; errors
    # point at `value` (a missing one is passed on as None to be reported there).
    @model_validator(mode="before")
    @classmethod
    def _rating_given(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("type") == "rate" and "value" not in data:
            return {**data, "value": None}
        return data

    @field_validator("value", mode="before")
    @classmethod
    def _rating_present(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.data.get("type") == "rate":
            raise ValueError("a rate event needs a value (the rating)")
        return value

    @field_validator("value")
    @classmethod
    def _rating_range(cls, value: float, info: ValidationInfo) -> float:
        low, high = RATING_RANGE
        if info.data.get("type") == "rate" and not low <= value <= high:
            raise ValueError(f"rating outside {low:g}-{high:g}")
        return value

    def fields(self) -> dict[str, Any]:
        return {**self.model_dump(), "timestamp": iso(self.timestamp)}


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


M = TypeVar("M", bound=BaseModel)
B = TypeVar("B", bound=BaseModel)


def parse_body(raw: bytes) -> Any:
    """JSON via orjson (strict UTF-8: a lone surrogate is bad input, not a 500 later)."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body",), "msg": f"invalid JSON: {exc}"}]
        ) from None


def one_or_many(data: Any, single: type[M], batch: type[B], field: str) -> list[M]:
    """`{...one record...}` or `{field: [records]}`; errors keep their JSON pointer."""
    try:
        if isinstance(data, dict) and field in data:
            return list(getattr(batch.model_validate(data), field))
        return [single.model_validate(data)]
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()
        ]
        raise RequestValidationError(errors) from None


def accepted(ids: list[str], fresh: list[bool]) -> Response:
    """202 with how many records were new and which ids were already known (retries)."""
    duplicates = [i for i, new in zip(ids, fresh, strict=True) if not new]
    body = {
        "accepted": len(ids) - len(duplicates),
        "duplicates": len(duplicates),
        "duplicate_ids": duplicates,
    }
    return OrjsonResponse(body, status_code=202)


def body_schema(single: type[BaseModel], batch: type[BaseModel]) -> dict[str, Any]:
    """The request body for the OpenAPI document (the route reads the body itself)."""
    schema = {"anyOf": [_inline(single.model_json_schema()), _inline(batch.model_json_schema())]}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    resolved: dict[str, Any] = resolve(schema)
    return resolved


async def record_events(state: ServingState, events: list[EventIn]) -> list[bool]:
    """Append, then update recent history and attribution for the new events."""
    if state.client is None:
        raise Unavailable("Redis is not connected")
    records = [intake.Record(e.event_id, e.fields()) for e in events]
    try:
        fresh = await intake.append(state.client, state.keys, intake.EVENTS, records)
        by_customer: dict[str, list[RecentEvent]] = defaultdict(list)
        pipe = state.client.pipeline(transaction=False)
        for event, record, new in zip(events, records, fresh, strict=True):
            if not new:
                continue
            by_customer[event.customer_id].append(
                RecentEvent(
                    event.item_id, event.type, int(event.timestamp.timestamp()), event.channel
                )
            )
            attribute(pipe, record.fields, keys=state.keys, ttl=state.settings.attribution_seconds)
            if event.type == "redeem":  # offer budgets (new events only: retries never count)
                record_redemptions(pipe, state.keys, [event.item_id])
        for customer_id, recent in by_customer.items():
            append_events(pipe, state.keys, customer_id, recent)
        if by_customer:
            await pipe.execute()
    except (RedisError, OSError) as exc:
        state.mark_unavailable(exc)
        raise Unavailable("events could not be recorded; retry with the same event ids") from None
    # A/B experiments: new conversions count for the experiments that served them (never fails)
    await record_conversions(state, [e for e, new in zip(events, fresh, strict=True) if new])
    return fresh


@router.post(
    "",
    status_code=202,
    openapi_extra=body_schema(EventIn, EventBatch),
    responses={202: {"description": "Counts of accepted and duplicate events."}},
)
async def post_events(request: Request, state: StateDep) -> Response:
    """Record one event or a batch (`{"events": [...]}`, at most 1,000); retries are safe."""
    events = one_or_many(parse_body(await request.body()), EventIn, EventBatch, "events")
    fresh = await record_events(state, events)
    return accepted([e.event_id for e in events], fresh)
