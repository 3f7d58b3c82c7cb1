"""Data rights: `DELETE /v1/customers/{customer_id}` (erase) and
`GET /v1/customers/{customer_id}/export` (everything held about them, one JSON document).

Scope `privacy:write` (or `admin`) for both: handing over a person's data is as sensitive
as erasing it. Erasing is idempotent (an unknown or already erased id answers 200 with
nothing removed); an export of a customer nothing is held about is a 404 problem.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.auth import actor
from api.deps import StateDep
from api.fields import CustomerIdPath
from api.responses import OrjsonResponse
from api.services import privacy

router = APIRouter(prefix="/v1/customers", tags=["privacy"])


@router.delete("/{customer_id}")
async def erase_customer(
    request: Request, state: StateDep, customer_id: CustomerIdPath
) -> Response:
    """Erase the customer from every live and kept version in Redis and keep them out."""
    return OrjsonResponse(await privacy.erase(state, customer_id, who=actor(request)))


@router.get("/{customer_id}/export")
async def export_customer(state: StateDep, customer_id: CustomerIdPath) -> Response:
    """Profile, recommendations, segments, recent events, answers, cases, experiments."""
    return OrjsonResponse(await privacy.export(state, customer_id))
