"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.deps import StateDep
from api.responses import OrjsonResponse

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> Response:
    """The process is up."""
    return OrjsonResponse({"status": "ok"})


@router.get("/readyz")
async def readyz(state: StateDep) -> Response:
    """Ready when Redis answers and a live version is loaded."""
    if state.reader is not None:
        await state.refresh()
    ready = state.redis_ok and state.shared is not None
    body = {
        "ready": ready,
        "redis": state.redis_ok,
        "version": state.shared.version if state.shared else None,
    }
    return OrjsonResponse(body, status_code=200 if ready else 503)
