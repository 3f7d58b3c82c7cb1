"""`GET /v1/items/{item_id}/similar`: items like this one, from the published neighbours."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import StateDep
from api.fields import Channel, ItemIdPath, K
from api.responses import OrjsonResponse
from api.services.similar import similar_items

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.get("/{item_id}/similar")
async def similar(
    state: StateDep,
    item_id: ItemIdPath,
    k: K = 10,
    channel: Channel | None = None,
) -> Response:
    """Similar items of the same kind; same-category popular items fill a short list."""
    return OrjsonResponse(similar_items(state, item_id=item_id, k=k, channel=channel))
