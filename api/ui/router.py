"""Wires the dashboard into the app: its pages and forms under `/ui`, the hashed static
files, and the answers to a missing login (redirect) and a bad CSRF token (403 page)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from api.ui import actions, case_actions, pages
from api.ui.assets import IMMUTABLE, manifest
from api.ui.session import CsrfRejected, LoginRequired, login_url

static = APIRouter(prefix="/ui/static", include_in_schema=False)


@static.get("/{name}")
async def static_file(name: str) -> Response:
    asset = manifest().get(name)
    if asset is None:
        return Response("not found", status_code=404, media_type="text/plain")
    return Response(asset.body, media_type=asset.media_type,
                    headers={"cache-control": IMMUTABLE})  # fmt: skip


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    return RedirectResponse(login_url(exc.next_path), status_code=303)


async def _csrf_rejected(request: Request, exc: Exception) -> Response:
    body = ("<!doctype html><title>Refused</title><h1>Form refused</h1>"
            "<p>This form was not sent from the dashboard page (missing or wrong CSRF token). "
            '<a href="/ui/">Back to the dashboard</a>.</p>')  # fmt: skip
    return HTMLResponse(body, status_code=403)


def install(app: FastAPI) -> None:
    """Add the dashboard to `app` (called once by `api.app.create_app`)."""
    app.include_router(static)
    app.include_router(pages.router)
    app.include_router(actions.router)
    app.include_router(case_actions.router)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRejected, _csrf_rejected)
