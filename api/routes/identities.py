"""`POST /v1/identities/merge` `{"anonymous_id": …, "customer_id": …}` (scope `events:write`):
a visitor logged in. Their recent events, impression counts and A/B assignment carry over to
the customer (`api.services.identity`); the same call again answers the same result (200)
and moves nothing twice; a visitor id merged into another customer before is a 409.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.responses import Response

from api.auth import actor
from api.deps import ServingDep
from api.fields import Id
from api.responses import OrjsonResponse
from api.services.identity import merge

router = APIRouter(prefix="/v1/identities", tags=["identities"])


class MergeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    anonymous_id: Id
    customer_id: Id


@router.post("/merge")
async def merge_identities(request: Request, serving: ServingDep, body: MergeIn) -> Response:
    """Merge the visitor into the customer; idempotent."""
    done = await merge(serving.state, serving.book, anonymous_id=body.anonymous_id,
                       customer_id=body.customer_id, who=actor(request))  # fmt: skip
    return OrjsonResponse(done)
