"""A customer's consent, live (scope `events:write`, like the other facts a shop sends in):

- `PUT /v1/customers/{customer_id}/consent` `{"email": false, "personalisation": false}`: any
  of `email`, `push`, `sms`, `personalisation`, `analytics` (booleans; the others keep their
  value); it holds from the next request on every replica
- `GET /v1/customers/{customer_id}/consent`: each purpose's value and source, and the history
See `api.services.consent` for which value wins and README "Consent and identity".
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, StrictBool, model_validator
from starlette.responses import Response

from api.auth import actor
from api.deps import StateDep
from api.fields import CustomerIdPath
from api.responses import OrjsonResponse
from api.services.consent import consent_view, set_consent

router = APIRouter(prefix="/v1/customers", tags=["consent"])


class ConsentIn(BaseModel):
    """The purposes to set; at least one. A purpose left out keeps its value."""

    model_config = ConfigDict(extra="forbid")

    email: StrictBool | None = None
    push: StrictBool | None = None
    sms: StrictBool | None = None
    personalisation: StrictBool | None = None
    analytics: StrictBool | None = None

    @model_validator(mode="after")
    def _something(self) -> ConsentIn:
        if not self.given():
            raise ValueError("give at least one of email, push, sms, personalisation, analytics")
        return self

    def given(self) -> dict[str, bool]:
        return {k: v for k, v in self.model_dump().items() if v is not None}


@router.put("/{customer_id}/consent")
async def put_consent(
    request: Request, state: StateDep, customer_id: CustomerIdPath, body: ConsentIn
) -> Response:
    """Give or withdraw consent; answers the consent as it now holds."""
    view = await set_consent(state, customer_id, body.given(), who=actor(request))
    return OrjsonResponse(view)


@router.get("/{customer_id}/consent")
async def get_consent(state: StateDep, customer_id: CustomerIdPath) -> Response:
    """Each purpose's value (`source`: live, batch or default) and the latest changes."""
    return OrjsonResponse(await consent_view(state, customer_id))
