"""Per-customer product recommendations."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from starlette.responses import Response

from api.deps import StateDep
from api.recommend import recommend_products
from api.responses import OrjsonResponse

router = APIRouter(prefix="/v1/customers", tags=["recommendations"])

Channel = Literal["web", "app", "email", "push", "store", "call_centre"]
CustomerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}\s]+$")]


@router.get("/{customer_id}/recommendations")
async def recommendations(
    state: StateDep,
    customer_id: CustomerId,
    channel: Channel | None = None,
    k: Annotated[int, Query(ge=1, le=100)] = 10,
    category: Annotated[str | None, Query(max_length=128)] = None,
    exclude: Annotated[str | None, Query(max_length=4096, description="comma-separated ids")] = None,
) -> Response:
    """Products for one customer; unknown customers get popular items, never an error."""
    excluded = frozenset(x for x in (exclude or "").split(",") if x)
    body = await recommend_products(
        state, customer_id=customer_id, channel=channel, k=k, category=category, exclude=excluded
    )
    return OrjsonResponse(body)
