"""Survey intake: `POST /v1/feedback` takes one NPS/CSAT/CES response or a batch.

Scores are checked against the survey's range (NPS 0–10, CSAT 1–5, CES 1–7). Responses are
appended once (idempotent by `response_id`) to the feedback stream that `touchpoint ingest`
drains, and the newest answer per customer and survey is kept for the profile.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)
from starlette.responses import Response

from api.bodies import accepted, body_schema, one_or_many, parse_body
from api.deps import StateDep
from api.fields import Channel, Id, Survey, iso, parse_timestamp
from api.services.intake import record_feedback
from api.services.privacy import drop_erased
from contracts.requests import BATCH_MAX, COMMENT_MAX, TOUCHPOINT_MAX
from contracts.schema import SURVEY_RANGES

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

Text = Annotated[str, StringConstraints(max_length=COMMENT_MAX)]


class FeedbackIn(BaseModel):
    """One survey response, as in the feedback table of the data contract."""

    model_config = ConfigDict(extra="forbid")

    response_id: Id = Field(description="Unique id; a repeated id is a duplicate and ignored.")
    customer_id: Id
    survey: Survey
    score: int = Field(description="NPS 0–10, CSAT 1–5, CES 1–7.")
    comment: Text = ""
    channel: Channel = "web"
    touchpoint: Annotated[str, StringConstraints(max_length=TOUCHPOINT_MAX)] = ""
    timestamp: datetime = Field(
        default_factory=lambda: datetime.now(UTC),
        description="ISO 8601; naive means UTC; default now.",
        json_schema_extra={"type": "string", "format": "date-time"},
    )

    @field_validator("timestamp", mode="before")
    @classmethod
    def _timestamp(cls, value: object) -> datetime:
        return parse_timestamp(value)

    @field_validator("score")
    @classmethod
    def _in_range(cls, score: int, info: ValidationInfo) -> int:
        survey = info.data.get("survey")
        if survey in SURVEY_RANGES:
            low, high = SURVEY_RANGES[survey]
            if not low <= score <= high:
                raise ValueError(f"{survey} scores run from {low} to {high}")
        return score

    def fields(self) -> dict[str, Any]:
        return {**self.model_dump(), "timestamp": iso(self.timestamp)}


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    responses: list[FeedbackIn] = Field(min_length=1, max_length=BATCH_MAX)


@router.post(
    "",
    status_code=202,
    openapi_extra=body_schema(FeedbackIn, FeedbackBatch),
    responses={202: {"description": "Counts of accepted and duplicate responses."}},
)
async def post_feedback(request: Request, state: StateDep) -> Response:
    """Record one survey response or a batch (`{"responses": [...]}`, at most 1,000)."""
    responses = one_or_many(
        parse_body(await request.body()), FeedbackIn, FeedbackBatch, "responses"
    )
    kept, erased = await drop_erased(state, responses)
    fresh = await record_feedback(state, kept) if kept else []
    return accepted([r.response_id for r in kept], fresh, erased=erased)
