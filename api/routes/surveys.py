"""`GET /v1/customers/{customer_id}/survey`: whether to ask this customer for feedback now.

Scope `personalize:read`, like the other per-customer reads a front end or a marketing tool
makes at the moment of contact (asking records the ask, so the answer is not cached).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from api.deps import PartsDep
from api.fields import Channel, CustomerIdPath
from api.responses import OrjsonResponse
from api.services.surveys import survey_decision, survey_policy
from contracts.requests import TOUCHPOINT_MAX

router = APIRouter(prefix="/v1/customers", tags=["surveys"])


@router.get("/{customer_id}/survey")
async def survey(
    parts: PartsDep,
    customer_id: CustomerIdPath,
    channel: Channel,
    touchpoint: Annotated[str, Query(max_length=TOUCHPOINT_MAX)] = "",
) -> Response:
    """Ask now, and which survey (NPS, CSAT, CES), or why not: an open case, no consent on
    the channel, the quiet period after any survey on any channel, the survey's cooldown, or
    no survey configured for this touchpoint. An "ask" is recorded at once for every replica.
    """
    body = await survey_decision(
        parts.serving,
        survey_policy(parts.settings),
        customer_id=customer_id,
        channel=channel,
        touchpoint=touchpoint,
    )
    return OrjsonResponse(body, headers={"Cache-Control": "no-store"})
