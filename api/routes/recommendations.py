"""Per-customer lists: products, offers, content and loyalty rewards for one channel."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import Serving, ServingDep
from api.fields import Channel, ContextItemQuery, CustomerIdPath, ExcludeQuery, FilterQuery, K
from api.responses import OrjsonResponse, background
from api.services.recommend import SlotRequest, answer

router = APIRouter(prefix="/v1/customers", tags=["recommendations"])

RECOMMENDATIONS_K = 10  # products in a list unless `k` says otherwise (the fast path's too)


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


def excluded_ids(exclude: str | None) -> frozenset[str]:
    """The ids of a comma-separated `exclude` parameter (empty entries dropped)."""
    return frozenset(x for x in exclude.split(",") if x) if exclude else frozenset()


@router.get("/{customer_id}/recommendations")
async def recommendations(
    serving: ServingDep,
    customer_id: CustomerIdPath,
    channel: Channel | None = None,
    k: K = RECOMMENDATIONS_K,
    category: FilterQuery = None,
    context_item: ContextItemQuery = None,
    exclude: ExcludeQuery = None,
) -> Response:
    """Products for one customer; unknown customers get segment/popular items, never an error.

    Served by `api.fastpath` when the request is valid; this route documents it in the
    OpenAPI schema and answers whatever the fast path does not take (every error included)."""
    request = SlotRequest(
        "recommendations", "product", k, category, excluded_ids(exclude), context_item
    )
    return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)


def _kind_list(name: str, kind: str, doc: str) -> Any:
    """The route of one kind's list (`GET /v1/customers/{id}/<name>`), k = 5 by default."""

    async def route(
        serving: ServingDep,
        customer_id: CustomerIdPath,
        channel: Channel | None = None,
        k: K = 5,
    ) -> Response:
        request = SlotRequest(name, kind, k)
        return await _one_list(serving, customer_id=customer_id, channel=channel, request=request)

    route.__name__, route.__doc__ = name, doc
    return route


for _name, _kind, _doc in (
    ("offers", "offer", "Offers by expected value (propensity × margin), under caps and budgets."),
    ("content", "content",
     "Articles, videos and guides from content interactions and the customer's segments."),
    ("rewards", "reward",
     "Affordable loyalty rewards by affinity, plus a nudge: the best one just out of reach."),
):  # fmt: skip
    router.add_api_route(f"/{{customer_id}}/{_name}", _kind_list(_name, _kind, _doc))
