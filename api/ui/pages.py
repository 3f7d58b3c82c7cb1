"""The dashboard's pages (GET): each gathers a plain dict through `api.ui.*_view` and renders
its template inside the frame (navigation, who is logged in, banners, CSRF token)."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import parts_of
from api.routes.experiments import get_results
from api.routes.segments import segment_members
from api.services.experiment_serving import runtime_for
from api.ui import (
    cases_view,
    customer_view,
    cx_view,
    experiments_view,
    rules_view,
    segments_view,
    views,
)
from api.ui.render import render
from api.ui.session import Viewer, current_viewer, notice_mark, secret_of, set_cookie

router = APIRouter(prefix="/ui", include_in_schema=False)
OPEN_BANNER = (
    "The API runs without API keys, so this dashboard is open to anyone who can reach it. "
    "Create a key (touchpoint keys create --name NAME --scopes dashboard) to require a login."
)
REDIS_BANNER = "Redis is unreachable: the API answers degraded and some figures are missing."


def frame(request: Request, viewer: Viewer, problems: list[str], secret: bytes) -> dict[str, Any]:
    banners = []
    if viewer.open:
        banners.append(("info", OPEN_BANNER))
    state = parts_of(request.app).serving
    if not state.redis_ok:
        banners.append(("error", REDIS_BANNER))
    banners += [("warn", p) for p in problems]
    notice, mark = request.query_params.get("notice"), request.query_params.get("mark", "")
    if notice and hmac.compare_digest(mark, notice_mark(secret, notice)):
        level = "warn" if request.query_params.get("level") == "warn" else "ok"
        banners.append((level, notice[:300]))  # only what a dashboard action said
    return {"viewer": viewer, "csrf": viewer.csrf, "banners": banners,
            "path": request.url.path}  # fmt: skip


async def show(
    request: Request, template: str, gather: Awaitable[dict[str, Any]] | dict[str, Any],
    *, viewer: Viewer | None = None, status_code: int = 200,
) -> Response:  # fmt: skip
    viewer = viewer or await current_viewer(request)
    context = gather if isinstance(gather, dict) else await gather
    around = frame(request, viewer, context.get("problems", []), await secret_of(request))
    page = render(template, context, frame=around, status_code=status_code)
    return set_cookie(request, page, viewer)


@router.get("/")
async def overview(request: Request) -> Response:
    viewer = await current_viewer(request)
    return await show(request, "overview.html", views.overview(parts_of(request.app)),
                      viewer=viewer)  # fmt: skip


@router.get("/customers")
async def customers(
    request: Request, customer_id: Annotated[str | None, Query(max_length=200)] = None
) -> Response:
    viewer = await current_viewer(request)
    wanted = (customer_id or "").strip()
    if not wanted:
        return await show(request, "customer.html", {"customer_id": ""}, viewer=viewer)
    problem = customer_view.id_problem(wanted)
    if problem is not None:
        context = {"customer_id": wanted, "id_error": problem}
        return await show(request, "customer.html", context, viewer=viewer, status_code=422)
    gathered = await customer_view.customer_360(parts_of(request.app), wanted)
    return await show(request, "customer.html", gathered, viewer=viewer)


@router.get("/models")
async def models(request: Request) -> Response:
    viewer = await current_viewer(request)
    return await show(request, "models.html", views.models_page(parts_of(request.app)),
                      viewer=viewer)  # fmt: skip


@router.get("/segments")
async def segments(request: Request) -> Response:
    viewer = await current_viewer(request)
    gathered = segments_view.segments_page(parts_of(request.app))
    return await show(request, "segments.html", gathered, viewer=viewer)


@router.get("/segments/{name}/members.{fmt}")
async def segment_export(request: Request, name: str, fmt: str) -> Response:
    """Member export under the dashboard's login: the `/v1/segments` route's own stream."""
    await current_viewer(request)
    if fmt not in ("csv", "ndjson"):
        return Response("csv or ndjson", status_code=404)
    state = parts_of(request.app).serving
    export = await segment_members(name, state, None, 1000, fmt)  # type: ignore[arg-type]
    assert isinstance(export, Response)  # csv and ndjson stream
    return export


@router.get("/experiments")
async def experiments(request: Request) -> Response:
    viewer = await current_viewer(request)
    gathered = experiments_view.experiments_page(parts_of(request.app))
    return await show(request, "experiments.html", gathered, viewer=viewer)


@router.get("/experiments/{key}")
async def experiment(request: Request, key: str) -> Response:
    viewer = await current_viewer(request)
    gathered = await experiments_view.experiment_page(parts_of(request.app), key)
    status = 404 if gathered["experiment"] is None and parts_of(request.app).serving.redis_ok \
        else 200  # fmt: skip
    return await show(request, "experiment.html", gathered, viewer=viewer, status_code=status)


@router.get("/experiments/{key}/results.csv")
async def experiment_csv(request: Request, key: str) -> Response:
    """The results CSV of `GET /v1/experiments/{key}/results?format=csv`, under the login."""
    await current_viewer(request)
    return await get_results(runtime_for(parts_of(request.app).serving), key, "csv")


@router.get("/cx")
async def customer_experience(request: Request) -> Response:
    viewer = await current_viewer(request)
    return await show(request, "cx.html", cx_view.cx_page(parts_of(request.app)), viewer=viewer)


@router.get("/cases")
async def cases(
    request: Request,
    order: Annotated[str, Query(max_length=16)] = "newest",
    cursor: Annotated[str | None, Query(max_length=1024)] = None,
) -> Response:
    viewer = await current_viewer(request)
    filters = cases_view.chosen_filters(request.query_params)
    gathered = cases_view.cases_page(parts_of(request.app), filters=filters, order=order,
                                     cursor=cursor or None)  # fmt: skip
    return await show(request, "cases.html", gathered, viewer=viewer)


@router.get("/rules")
async def rules(request: Request) -> Response:
    viewer = await current_viewer(request)
    gathered = rules_view.rules_page(parts_of(request.app))
    return await show(request, "rules.html", gathered, viewer=viewer)  # fmt: skip


@router.get("/operations")
async def operations(request: Request) -> Response:
    viewer = await current_viewer(request)
    return await show(request, "operations.html", views.operations(parts_of(request.app)),
                      viewer=viewer)  # fmt: skip
