"""Event intake: `POST /v1/events` takes one event or a batch of up to 1,000.

Each event is validated against the events contract, appended once (idempotent by
`event_id`) to the events stream that `touchpoint ingest` drains, pushed onto the customer's
live recent history so the next request reflects it, and — for conversions carrying a
`recommendation_id` — attributed to what that recommendation served
(`api.services.intake`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from starlette.responses import Response

from api.bodies import accepted, body_schema, one_or_many, parse_body
from api.deps import StateDep
from api.fields import Channel, EventType, Id, OptionalId, Touchpoint, iso, parse_timestamp
from api.services.intake import record_events
from api.services.privacy import drop_erased
from contracts.requests import BATCH_MAX
from contracts.schema import RATING_RANGE

router = APIRouter(prefix="/v1/events", tags=["events"])


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
    touchpoint: Touchpoint = Field(
        default="", description="Journey touchpoint; empty: derived from channel and type."
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

    events: list[EventIn] = Field(min_length=1, max_length=BATCH_MAX)


@router.post(
    "",
    status_code=202,
    openapi_extra=body_schema(EventIn, EventBatch),
    responses={202: {"description": "Counts of accepted and duplicate events."}},
)
async def post_events(request: Request, state: StateDep) -> Response:
    """Record one event or a batch (`{"events": [...]}`, at most 1,000); retries are safe."""
    events = one_or_many(parse_body(await request.body()), EventIn, EventBatch, "events")
    kept, erased = await drop_erased(state, events)
    fresh = await record_events(state, kept) if kept else []
    return accepted([e.event_id for e in kept], fresh, erased=erased)
