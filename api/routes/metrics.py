"""`GET /metrics`: Prometheus text exposition of this process's registry."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from api.deps import PartsDep

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(parts: PartsDep) -> Response:
    """Request counts and latency histograms per route template, fallbacks and errors."""
    body = generate_latest(parts.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
