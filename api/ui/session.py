"""Dashboard sessions: a signed, `HttpOnly`, `SameSite=Strict` cookie with an expiry, and the
CSRF token every state-changing form carries.

Every visitor gets a session (a random nonce); a login adds the API key's id to it. The
cookie is `base64(json).base64(HMAC-SHA256)`; the CSRF token is an HMAC of the nonce, so
it is bound to the session and a forged form from another site cannot know it. With API
keys in force a page needs a session naming a key that is still active and holds the
`dashboard` (or `admin`) scope, checked on every request against the API's key cache; with
the API open the dashboard is open too, and says so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote

import orjson
from fastapi import Request
from redis.exceptions import RedisError
from starlette.responses import Response

from api.deps import parts_of
from api.problems import Forbidden, Unauthorized
from api.services.audit import record_audit
from contracts.requests import SCOPE_DASHBOARD
from store import dashboard

log = logging.getLogger("touchpoint.ui")
COOKIE = "tp_ui"
FORM_MAX = 16_384  # bytes of a dashboard form


class LoginRequired(Unauthorized):
    """The page needs a login: answered with a redirect to the login page (the dashboard's
    own handler, ahead of the API's 401 problem)."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRejected(Forbidden):
    """A state-changing form came without this session's CSRF token (answered as a page by
    the dashboard's own handler)."""


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who is looking: the key id (None while the dashboard runs open or before login)."""

    key_id: str | None
    nonce: str
    expires: float
    open: bool  # no API key is required: the dashboard is open to anyone
    csrf: str
    cookie: str | None = None  # a fresh session to set on the response

    @property
    def who(self) -> str:
        """The name an action is logged under."""
        return f"key {self.key_id}" if self.key_id else "anonymous (API open)"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


async def secret_of(request: Request) -> bytes:
    """The signing secret: the setting, else the one shared in Redis, else this process's."""
    ui = ui_state(request)
    if ui.secret is not None:
        return ui.secret
    parts = parts_of(request.app)
    configured = parts.settings.dashboard_secret
    if configured:
        ui.secret = configured.encode()
        return ui.secret
    client = parts.serving.client
    try:
        if client is None:
            raise RedisError("not connected")
        ui.secret = await dashboard.shared_secret(client, parts.serving.keys, ui.fallback)
    except (RedisError, OSError):
        return ui.fallback  # not kept: the shared one is read once Redis is back
    return ui.secret


@dataclass
class UiState:
    secret: bytes | None = None
    fallback: bytes = b""


def ui_state(request: Request) -> UiState:
    state: UiState | None = getattr(request.app, "ui_state", None)
    if state is None:
        state = UiState(fallback=secrets.token_bytes(32))
        request.app.ui_state = state
    return state


def sign(secret: bytes, payload: dict[str, Any]) -> str:
    body = _b64(orjson.dumps(payload))
    mac = hmac.new(secret, body.encode(), hashlib.sha256).digest()
    return f"{body}.{_b64(mac)}"


def unsign(secret: bytes, token: str) -> dict[str, Any] | None:
    """The payload of a well-signed, unexpired token; None otherwise."""
    body, _, mac = token.partition(".")
    try:
        expected = hmac.new(secret, body.encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(expected, _unb64(mac)):
            return None
        payload: dict[str, Any] = orjson.loads(_unb64(body))
    except (ValueError, orjson.JSONDecodeError):
        return None
    if not isinstance(payload, dict) or float(payload.get("x", 0)) <= time.time():
        return None
    return payload


def csrf_token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, f"csrf.{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


async def keys_required(request: Request) -> bool:
    """Whether the API (and so the dashboard) asks for keys; unknown counts as open in
    development and as required in production, as `api.auth.verify` decides."""
    parts = parts_of(request.app)
    cache = parts.api_keys
    required = cache.required(await cache.get(parts.serving))
    if required is None:
        return parts.settings.environment == "production"
    return required


async def key_still_valid(request: Request, key_id: str) -> bool:
    parts = parts_of(request.app)
    records = await parts.api_keys.get(parts.serving) or {}
    record = records.get(key_id)
    return record is not None and record.allows(SCOPE_DASHBOARD)


async def new_session(request: Request, key_id: str | None, *, open_: bool) -> Viewer:
    secret = await secret_of(request)
    minutes = parts_of(request.app).settings.dashboard_session_minutes
    nonce = secrets.token_urlsafe(16)
    expires = time.time() + 60 * minutes
    cookie = sign(secret, {"k": key_id, "n": nonce, "x": expires})
    return Viewer(key_id, nonce, expires, open_, csrf_token(secret, nonce), cookie)


async def current_viewer(request: Request, *, login_page: bool = False) -> Viewer:
    """The visitor's session (a fresh anonymous one when it has none); raises LoginRequired
    when keys are in force and the session names no valid key (except on the login page)."""
    required = await keys_required(request)
    secret = await secret_of(request)
    payload = unsign(secret, request.cookies.get(COOKIE, ""))
    if payload is None:
        viewer = await new_session(request, None, open_=not required)
    else:
        nonce, kid = str(payload["n"]), payload.get("k")
        viewer = Viewer(kid, nonce, float(payload["x"]), not required, csrf_token(secret, nonce))
    if (
        required
        and not login_page
        and (viewer.key_id is None or not await key_still_valid(request, viewer.key_id))
    ):
        raise LoginRequired(request.url.path)
    return viewer


def set_cookie(request: Request, response: Response, viewer: Viewer) -> Response:
    if viewer.cookie is not None:
        response.set_cookie(
            COOKIE, viewer.cookie, max_age=max(1, int(viewer.expires - time.time())),
            path="/ui", httponly=True, samesite="strict",
            secure=request.url.scheme == "https",
        )  # fmt: skip
    return response


def clear_cookie(response: Response) -> Response:
    response.delete_cookie(COOKIE, path="/ui", httponly=True, samesite="strict")
    return response


async def read_form(request: Request, viewer: Viewer) -> dict[str, str]:
    """An urlencoded form's fields (first value each), after checking its CSRF token."""
    body = await request.body()
    if len(body) > FORM_MAX:
        raise CsrfRejected("form too large")
    fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if not hmac.compare_digest(fields.get("csrf", ""), viewer.csrf):
        raise CsrfRejected("missing or wrong CSRF token")
    return fields


def notice_mark(secret: bytes, notice: str) -> str:
    return hmac.new(secret, f"notice.{notice}".encode(), hashlib.sha256).hexdigest()[:16]


def safe_next(path: str | None) -> str:
    """Where to go after login: a dashboard path only (never another site)."""
    if path and path.startswith("/ui") and not path.startswith("//") and "\\" not in path:
        return path
    return "/ui/"


def login_url(next_path: str) -> str:
    return f"/ui/login?next={quote(safe_next(next_path))}"


async def record_action(
    request: Request, viewer: Viewer, action: str, target: str, detail: str = ""
) -> None:
    """Log a dashboard action with who did it, and append it to the audit trail."""
    log.info("dashboard action: %s %s by %s %s", action, target, viewer.who, detail)
    state = parts_of(request.app).serving
    await record_audit(
        state, who=viewer.who, action=f"dashboard.{action}", target=target, outcome="ok",
        detail=detail,
    )  # fmt: skip
