"""The dashboard's forms (POST, each with the session's CSRF token): log in and out, make a
serving version live or roll back (after a confirmation page), change an experiment's
status. Every action is logged with who did it (`api.ui.session.record_action`)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from starlette.responses import RedirectResponse, Response

from api import auth
from api.deps import parts_of
from api.problems import Forbidden, Unauthorized, Unavailable
from api.services import experiment_admin as admin
from api.services import model_admin
from api.services.experiment_serving import runtime_for
from api.ui.pages import show
from api.ui.session import (
    clear_cookie,
    current_viewer,
    new_session,
    notice_mark,
    read_form,
    record_action,
    safe_next,
    secret_of,
    set_cookie,
)
from contracts.errors import TouchpointError
from contracts.requests import SCOPE_DASHBOARD

router = APIRouter(prefix="/ui", include_in_schema=False)


async def _back(request: Request, path: str, message: str) -> RedirectResponse:
    """303 See Other to `path` (the post/redirect/get pattern) with a notice to show, signed
    so that a link from elsewhere cannot put its own words on a dashboard page."""
    mark = notice_mark(await secret_of(request), message)
    return RedirectResponse(f"{path}?notice={quote(message)}&mark={mark}", status_code=303)


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=300)] = None
) -> Response:
    viewer = await current_viewer(request, login_page=True)
    if viewer.open:
        return RedirectResponse(safe_next(next), status_code=303)
    return await show(request, "login.html", {"next": safe_next(next), "error": None},
                      viewer=viewer)  # fmt: skip


@router.post("/login")
async def login(request: Request) -> Response:
    viewer = await current_viewer(request, login_page=True)
    form = await read_form(request, viewer)
    target = safe_next(form.get("next"))
    key = form.get("key", "").strip()
    try:
        kid = await auth.verify(request.app, key or None, SCOPE_DASHBOARD)
    except (Unauthorized, Forbidden, Unavailable) as exc:
        context = {"next": target, "error": str(exc)}
        status = (
            403 if isinstance(exc, Forbidden) else 401 if isinstance(exc, Unauthorized) else 503
        )
        return await show(request, "login.html", context, viewer=viewer, status_code=status)
    session = await new_session(request, kid, open_=kid is None)  # a new nonce at login
    await record_action(request, session, "login", "dashboard")
    return set_cookie(request, RedirectResponse(target, status_code=303), session)


@router.post("/logout")
async def logout(request: Request) -> Response:
    viewer = await current_viewer(request, login_page=True)
    await read_form(request, viewer)
    await record_action(request, viewer, "logout", "dashboard")
    return clear_cookie(RedirectResponse("/ui/login", status_code=303))


@router.post("/models/switch")
async def switch_model(request: Request) -> Response:
    """Make a kept serving version live. Without `confirm=yes` it answers the confirmation
    page; with it, switches and redirects to the models page."""
    viewer = await current_viewer(request)
    form = await read_form(request, viewer)
    parts = parts_of(request.app)
    version, action = form.get("version", ""), form.get("action", "activate")
    if form.get("confirm") != "yes":
        live = parts.serving.shared.version if parts.serving.shared else None
        context = {"version": version, "action": action, "live": live}
        return await show(request, "confirm.html", context, viewer=viewer)
    try:
        done = await model_admin.activate_serving(parts.serving, version)
    except TouchpointError as exc:
        return await _back(request, "/ui/models", f"not switched: {exc}")
    detail = f"model {done['model_version']}, was {done['previous']}"
    await record_action(request, viewer, action, f"serving version {version}", detail)
    return await _back(request, "/ui/models", f"{version} is live ({action})")


@router.post("/experiments/{key}/status")
async def experiment_status(request: Request, key: str) -> Response:
    viewer = await current_viewer(request)
    form = await read_form(request, viewer)
    status = form.get("status", "")
    parts = parts_of(request.app)
    runtime = runtime_for(parts.serving)
    try:
        exp = await admin.definition(runtime, key)
        data = exp.model_dump(mode="json") | {"status": status}
        await admin.save_definition(runtime, data, profiles=parts.rules.current().profiles)
    except TouchpointError as exc:
        return await _back(request, f"/ui/experiments/{key}", f"not changed: {exc}")
    await record_action(request, viewer, "experiment status", key, f"{exp.status} -> {status}")
    return await _back(request, f"/ui/experiments/{key}", f"{key} is now {status}")
