"""`POST /v1/personalize`: a whole page or message in one call, one recommendation id."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.responses import Response

from api.deps import ServingDep
from api.fields import Channel, Excluded, Filter, Id, ItemKind, SlotK, SlotName
from api.responses import OrjsonResponse, background
from api.services.recommend import SlotRequest, answer
from contracts.requests import SLOTS_MAX

router = APIRouter(prefix="/v1", tags=["recommendations"])


class SlotFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: Filter | None = None
    exclude: Excluded = Field(default_factory=list)
    context_item: Filter | None = None


class Slot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SlotName
    kind: ItemKind = "product"
    k: SlotK = 5
    # factories, not a model or list as the default: pydantic deep-copies those per use
    filters: SlotFilters = Field(default_factory=SlotFilters)


class PersonalizeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: Id
    channel: Channel | None = None
    slots: Annotated[list[Slot], Field(min_length=1, max_length=SLOTS_MAX)]

    @model_validator(mode="after")
    def _unique_names(self) -> PersonalizeRequest:
        names = [s.name for s in self.slots]
        if len(set(names)) != len(names):
            raise ValueError("slot names must be unique")
        return self


@router.post("/personalize")
async def personalize(serving: ServingDep, body: PersonalizeRequest) -> Response:
    """Fill every slot (no item in two slots); `<channel>.<slot name>.yaml` rules apply.

    Served by `api.fastpath` when the body is valid JSON this model accepts; this route
    answers everything else (and documents the endpoint in the OpenAPI schema)."""
    head, slots, task = await answer(
        serving.state, serving.book, customer_id=body.customer_id, channel=body.channel,
        requests=slot_requests(body), metrics=serving.metrics, placement_from_name=True,
    )  # fmt: skip
    return OrjsonResponse(page_body(head, slots, body.channel), background=background(task))


def slot_requests(body: PersonalizeRequest) -> list[SlotRequest]:
    return [
        SlotRequest(
            s.name,
            s.kind,
            s.k,
            s.filters.category,
            frozenset(s.filters.exclude),
            s.filters.context_item,
        )
        for s in body.slots
    ]


def page_body(head: dict[str, Any], slots: list[dict[str, Any]], channel: str | None) -> Any:
    """The page's response: the answer's head, the channel, the combined strategy, slots."""
    strategies = list(dict.fromkeys(s["strategy"] for s in slots))
    return {**head, "channel": channel, "strategy": "+".join(strategies), "slots": slots}
