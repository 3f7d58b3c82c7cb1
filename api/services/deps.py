"""Injectables of the personalisation routes: serving state, rules in force, metrics.

All `async def`: FastAPI runs a plain `def` dependency in its thread pool, a thread hop per
dependency per request, which on the hot path cost more than the whole ranking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.metrics import Metrics
from api.services.rules_watch import RulesWatcher
from api.state import ServingState
from recsys.rules import RuleBook


async def get_state(request: Request) -> ServingState:
    state: ServingState = request.app.state.serving
    return state


def rules_of(app: Any) -> RuleBook:
    """The rules in force for `app` (its watcher re-reads changed files)."""
    watcher: RulesWatcher | None = getattr(app.state, "rules", None)
    if watcher is None:  # an app built without `api.services.install`
        watcher = app.state.rules = RulesWatcher(app.state.settings.rules_dir)
    return watcher.current()


async def get_rules(request: Request) -> RuleBook:
    return rules_of(request.app)


async def get_metrics(request: Request) -> Metrics | None:
    return getattr(request.app.state, "metrics", None)


@dataclass(frozen=True, slots=True)
class Serving:
    """What a personalised route needs, resolved as ONE dependency (each costs per request)."""

    state: ServingState
    book: RuleBook
    metrics: Metrics | None


async def get_serving(request: Request) -> Serving:
    return Serving(request.app.state.serving, await get_rules(request), await get_metrics(request))


StateDep = Annotated[ServingState, Depends(get_state)]
ServingDep = Annotated[Serving, Depends(get_serving)]
RulesDep = Annotated[RuleBook, Depends(get_rules)]
MetricsDep = Annotated[Metrics | None, Depends(get_metrics)]
