"""What one API process holds (`AppParts`), and the routes' injectables as `Annotated` aliases.

`async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
dependency per request, which on the hot path cost more than the whole ranking.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, Request

from api.prometheus import Metrics
from api.services.business_rules_watch import RulesWatcher
from api.settings import ApiSettings
from api.state import ServingState
from recsys.business_rules import RuleBook

if TYPE_CHECKING:
    from api.auth import KeyCache
    from api.services.limits import Limiter


@dataclass(eq=False, slots=True)
class AppParts:
    """Everything an app holds, declared: set up by `api.app.create_app`, the serving state
    by its lifespan. An attribute of the app (`app.parts`), not of Starlette's `app.state`:
    the fast path reads it per request, and `State` answers through `__getattr__`."""

    settings: ApiSettings
    rules: RulesWatcher  # the rules in force (re-read when their files change)
    api_keys: KeyCache
    metrics: Metrics
    limits: Limiter  # rate limits and failed authentications (`api.services.limits`)
    serving: ServingState = field(init=False)  # from start-up on


def parts_of(app: Any) -> AppParts:
    parts: AppParts = app.parts
    return parts


async def get_state(request: Request) -> ServingState:
    return parts_of(request.app).serving


StateDep = Annotated[ServingState, Depends(get_state)]


async def get_parts(request: Request) -> AppParts:
    return parts_of(request.app)


PartsDep = Annotated[AppParts, Depends(get_parts)]


@dataclass(frozen=True, slots=True)
class Serving:
    """What a personalised route needs, resolved as ONE dependency (each costs per request)."""

    state: ServingState
    book: RuleBook
    metrics: Metrics


async def get_serving(request: Request) -> Serving:
    parts = parts_of(request.app)
    return Serving(parts.serving, parts.rules.current(), parts.metrics)


ServingDep = Annotated[Serving, Depends(get_serving)]
