"""`GET /v1/customers/{customer_id}/profile`: who the customer is and what they just did."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import StateDep
from api.fields import CustomerIdPath
from api.responses import OrjsonResponse
from api.services.profile import read_profile

router = APIRouter(prefix="/v1/customers", tags=["profile"])


@router.get("/{customer_id}/profile")
async def profile(state: StateDep, customer_id: CustomerIdPath) -> Response:
    """Tier, points, segments from the batch; latest NPS/CSAT/CES and recent activity live.

    An unknown customer gets an empty profile (200, `known: false`), like cold-start lists.
    """
    return OrjsonResponse(await read_profile(state, customer_id))
