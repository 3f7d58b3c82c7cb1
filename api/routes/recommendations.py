"""Per-customer lists: products, offers, content and loyalty rewards for one channel."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.recommend import SlotRequest, answer
from api.responses import OrjsonResponse, background
from api.services.deps import Serving, ServingDep

router = APIRouter(prefix="/v1/customers", tags=["recommendations"])

Channel = Literal["web", "app", "email", "push", "store", "call_centre"]
CHANNELS: tuple[str, ...] = get_args(Channel)
CustomerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}\s]+$")]
K = Annotated[int, Query(ge=1, le=100)]


async def _one_list(
    serving: Serving,
    *,
    customer_id: str,
    channel: str | None,
    request: SlotRequest,
) -> Response:
    head, (slot,), task = await answer(
        serving.state, serving.book, customer_id=customer_id, channel=channel,
        requests=[request], metrics=serving.metrics,
    )  # fmt: skip
    return OrjsonResponse(list_body(head, slot, channel), background=background(task))


def list_body(head: dict[str, Any], slot: dict[str, Any], channel: str | None) -> dict[str, Any]:
    """One list's response: the answer's head, the channel, the slot without its name."""
    return {**head, "channel": channel, **{k: v for k, v in slot.items() if k != "name"}}


@router.get("/{customer_id}/recommendations")
async def recommendations(
    serving: ServingDep,
    customer_id: CustomerId,
    channel: Channel | None = None,
    k: K = 10,
    category: Annotated[str | None, Query(max_length=128)] = None,
    context_item: Annotated[
        str | None, Query(max_length=128, description="the item being looked at")
    ] = None,
    exclude: Annotated[
        str | None, Query(max_length=4096, description="comma-separated ids")
    ] = None,
) -> Response:
    """Products for one customer; unknown customers get segment/popular items, never an error.

    Served by `api.fastpath` when the request is valid; this route documents it in the
    OpenAPI schema and answers whatever the fast path does not take (every error included)."""
    excluded = frozenset(x for x in (exclude or "").split(",") if x)
    request = SlotRequest("recommendations", "product", k, category, excluded, context_item)
    return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)


@router.get("/{customer_id}/offers")
async def offers(
    serving: ServingDep,
    customer_id: CustomerId,
    channel: Channel | None = None,
    k: K = 5,
) -> Response:
    """Offers by expected value (propensity × margin), under caps and budgets."""
    request = SlotRequest("offers", "offer", k)
    return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)


@router.get("/{customer_id}/content")
async def content(
    serving: ServingDep,
    customer_id: CustomerId,
    channel: Channel | None = None,
    k: K = 5,
) -> Response:
    """Articles, videos and guides from content interactions and the customer's segments."""
    request = SlotRequest("content", "content", k)
    return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)


@router.get("/{customer_id}/rewards")
async def rewards(
    serving: ServingDep,
    customer_id: CustomerId,
    channel: Channel | None = None,
    k: K = 5,
) -> Response:
    """Affordable loyalty rewards by affinity, plus a nudge: the best one just out of reach."""
    request = SlotRequest("rewards", "reward", k)
    return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)
