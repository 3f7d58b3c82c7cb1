"""Injectables of the personalisation routes: serving state, rules in force and metrics,
resolved as one dependency (async, like `api.deps`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from api.deps import app_values
from api.metrics import Metrics
from api.services.rules_watch import RulesWatcher
from api.state import ServingState
from recsys.rules import RuleBook


def rules_of(app: Any) -> RuleBook:
    """The rules in force for `app` (its watcher re-reads changed files)."""
    values = app_values(app)
    watcher: RulesWatcher | None = values.get("rules")
    if watcher is None:  # an app built without `api.services.install`
        watcher = values["rules"] = RulesWatcher(values["settings"].rules_dir)
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


ServingDep = Annotated[Serving, Depends(get_serving)]
