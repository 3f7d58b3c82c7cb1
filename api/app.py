"""The app factory: `create_app(settings)` wires routers, errors and the serving state."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api import auth, middleware, problems, prometheus
from api.deps import AppParts
from api.fastpath import FastPath, TouchpointApp
from api.responses import OrjsonResponse
from api.routes import (
    audit,
    cases,
    consent,
    events,
    experiments,
    feedback,
    health,
    identities,
    insights,
    items,
    personalize,
    privacy,
    profile,
    recommendations,
    segments,
    surveys,
)
from api.routes import metrics as metrics_route
from api.services import impressions
from api.services.audit import schedule_audit
from api.services.business_rules_watch import RulesWatcher
from api.services.cases import case_config
from api.services.limits import Limiter
from api.settings import ApiSettings
from api.state import ServingState
from api.ui import router as dashboard
from contracts.requests import (
    SCOPE_ADMIN,
    SCOPE_CASES,
    SCOPE_EVENTS,
    SCOPE_EXPERIMENTS,
    SCOPE_INSIGHTS,
    SCOPE_PERSONALIZE,
    SCOPE_PRIVACY,
    SCOPE_SEGMENTS,
)

log = logging.getLogger("touchpoint.api")
GC_THRESHOLD = 50_000  # gen-0 allocations between collections on the serving process


def create_app(settings: ApiSettings | None = None) -> FastAPI:
    settings = settings or ApiSettings()

    @asynccontextmanager
    async def lifespan(app: TouchpointApp) -> AsyncIterator[None]:
        state = app.parts.serving = ServingState(settings)
        await state.start()
        await auth.on_startup(app)
        # Fewer cyclic-GC passes: a request allocates thousands of short-lived acyclic objects,
        # and the default gen-0 threshold (700) ran collections every request or two; measured
        # under bench/api_load.py, p99 62 ms -> 27 ms. Restored at shutdown.
        thresholds = gc.get_threshold()
        gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
        try:
            yield
        finally:
            gc.set_threshold(*thresholds)
            await impressions.flushed(state)
            await state.stop()

    app = TouchpointApp(
        title="Touchpoint",
        version="0.1.0",
        description="Personalised products, offers, content and rewards for every touchpoint.",
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
    )
    problems.install(app)
    if settings.cors_origins:  # then the fast path runs innermost, for CORS to wrap it
        app.fast_ahead = False
        app.add_middleware(FastPath)
    rules = RulesWatcher(settings.business_rules_dir)  # a bad rules file fails start-up, clearly
    case_config(settings.business_rules_dir, strict=True)  # so does a bad cases.yaml
    rules.install_sighup()
    surveys.survey_policy(settings, strict=True)  # a bad surveys.yaml too, with file and line
    app.parts = AppParts(
        settings=settings, rules=rules, api_keys=auth.KeyCache(settings),
        metrics=prometheus.install(app),  # the timing middleware, outside the fast path's
        limits=Limiter(settings),
    )  # fmt: skip
    rules.on_reload = lambda outcome, detail: schedule_audit(
        app.parts.serving, who="system:rules", action="rules.reload",
        target=str(settings.business_rules_dir), outcome=outcome, detail=detail,
    )  # fmt: skip
    middleware.install(app, settings)
    for module, scope in (  # scope None = open (health, metrics)
        (health, None),
        (metrics_route, None),
        (recommendations, SCOPE_PERSONALIZE),
        (personalize, SCOPE_PERSONALIZE),
        (items, SCOPE_PERSONALIZE),
        (profile, SCOPE_PERSONALIZE),
        (surveys, SCOPE_PERSONALIZE),
        (events, SCOPE_EVENTS),
        (feedback, SCOPE_EVENTS),
        (experiments, SCOPE_EXPERIMENTS),
        (segments, SCOPE_SEGMENTS),
        (cases, SCOPE_CASES),
        (insights, SCOPE_INSIGHTS),
        (audit, SCOPE_ADMIN),
        (consent, SCOPE_EVENTS),
        (identities, SCOPE_EVENTS),
        (privacy, SCOPE_PRIVACY),
    ):
        app.include_router(module.router, dependencies=auth.scoped(scope))
    dashboard.install(app)  # /ui: its own login (scope `dashboard`), see api/ui/session.py
    return app
