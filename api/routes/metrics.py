"""`GET /metrics`: Prometheus text exposition of this process's registry."""

from __future__ import annotations

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

router = APIRouter(tags=["health"])


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request) -> Response:
    """Request counts and latency histograms per route template, fallbacks and errors."""
    registry = getattr(request.app.state, "metrics", None)
    body = generate_latest(registry.registry) if registry is not None else b""
    return Response(body, media_type=CONTENT_TYPE_LATEST)
