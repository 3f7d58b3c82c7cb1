"""CX insights (scope `insights:read`): what the insights batch published, and live counts.

- `GET /v1/insights/scores?metric=&by=&period=&from=&to=&segment=` — one score table
- `GET /v1/insights/journey` — per stage in journey order, plus answers since the batch
- `GET /v1/insights/drivers?metric=` — key drivers and the importance × performance view
- `GET /v1/insights/themes?touchpoint=&stage=` — what the comments talk about
- `POST /v1/insights/sentiment` — sentiment of up to 1,000 texts by the published model
Nothing published yet: 200 with empty data and a `hint`. Bad parameters: 422 problem+json
whose `pointer` names the field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from starlette.responses import Response

from api.deps import StateDep
from api.responses import OrjsonResponse
from api.services import insights as service
from api.services.insights_journey import journey as journey_view
from contracts.requests import FILTER_MAX, SENTIMENT_TEXT_MAX, SENTIMENT_TEXTS_MAX

router = APIRouter(prefix="/v1/insights", tags=["insights"])

Metric = Annotated[
    str, Query(max_length=32, description="nps, csat (% 4-5), csat_mean, ces (mean), ces_easy")
]
Name = Annotated[str | None, Query(max_length=FILTER_MAX)]


@router.get("/scores")
async def scores(
    state: StateDep,
    metric: Metric = "nps",
    by: Annotated[
        str, Query(max_length=64, description="0-2 of touchpoint, stage, channel, segment, tier")
    ] = "touchpoint",
    period: Annotated[str, Query(max_length=8, description="none, day, week or month")] = "none",
    start: Annotated[date | None, Query(alias="from", description="first period, ISO date")] = None,
    end: Annotated[date | None, Query(alias="to", description="last period, ISO date")] = None,
    segment: Annotated[
        str | None, Query(max_length=FILTER_MAX, description="only this published segment")
    ] = None,
) -> Response:
    """Every cell with n, value, 95% interval, `insufficient` (n under the minimum: shown,
    never hidden), and its comparisons with the previous period and the rest (BH flags)."""
    answer = await service.scores(
        state, metric=metric, by=by, period=period, start=start, end=end, segment=segment
    )
    return Response(answer.body(), media_type="application/json")


@router.get("/journey")
async def journey(state: StateDep) -> Response:
    """NPS/CSAT/CES and the emotion curve per journey stage, in order, from the batch; and
    per stage and touchpoint the answers counted live since the batch's last day."""
    return OrjsonResponse(await journey_view(state))


@router.get("/drivers")
async def drivers(state: StateDep, metric: Metric = "nps") -> Response:
    """What moves the metric: relative weights with bootstrap intervals, and what to fix first."""
    name = service.check_metric(metric)
    return OrjsonResponse(await service.document(state, f"drivers/{name}", metric=name))


@router.get("/themes")
async def themes(state: StateDep, touchpoint: Name = None, stage: Name = None) -> Response:
    """Named themes with top terms, examples, lift (detractors vs promoters) and trend."""
    return OrjsonResponse(await service.themes(state, touchpoint=touchpoint, stage=stage))


Text = Annotated[str, StringConstraints(max_length=SENTIMENT_TEXT_MAX)]


class SentimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    texts: list[Text] = Field(min_length=1, max_length=SENTIMENT_TEXTS_MAX)


@router.post("/sentiment")
async def sentiment(state: StateDep, body: SentimentIn) -> Response:
    """A sentiment score in [-1, 1] per text (any language the model was trained on), by the
    model the live insights version trained on scored comments."""
    return OrjsonResponse(await service.score_texts(state, body.texts))
