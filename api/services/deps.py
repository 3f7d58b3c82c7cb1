"""Injectables of the personalisation routes: the rules in force and the metrics."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from api.metrics import Metrics
from api.services.rules_watch import RulesWatcher
from recsys.rules import RuleBook


def get_rules(request: Request) -> RuleBook:
    watcher: RulesWatcher | None = getattr(request.app.state, "rules", None)
    if watcher is None:  # an app built without `api.services.install`
        watcher = request.app.state.rules = RulesWatcher()
    return watcher.current()


def get_metrics(request: Request) -> Metrics | None:
    return getattr(request.app.state, "metrics", None)


RulesDep = Annotated[RuleBook, Depends(get_rules)]
MetricsDep = Annotated[Metrics | None, Depends(get_metrics)]
