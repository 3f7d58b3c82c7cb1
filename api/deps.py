"""Injectables as `Annotated` aliases: routes declare what they need by type.

`async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
dependency per request, which on the hot path cost more than the whole ranking.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from api.state import ServingState


async def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


StateDep = Annotated[ServingState, Depends(get_state)]


def app_values(app: Any) -> dict[str, Any]:
    """`app.state`'s values, for the per-request code that reads several (`api.fastpath`,
    `api.auth`): Starlette's `State` answers each attribute read through `__getattr__` after
    a failed lookup, which formats an AttributeError every time."""
    values: dict[str, Any] = app.state._state
    return values
