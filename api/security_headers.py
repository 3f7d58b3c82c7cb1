"""Security headers on every response, chosen per path prefix in ONE table (`POLICIES`).

The API answers JSON, so its policy forbids everything a browser could do with a response
(no scripts, no framing, no sniffing, no referrer). The interactive docs (`/docs`, `/redoc`)
load FastAPI's Swagger/ReDoc bundles from a CDN and run an inline script, so they get a
policy of their own. A page-serving part (the `/ui` dashboard) adds its prefix and policy
here; the longest matching prefix wins.

Applied by `SecurityHeaders` (pure ASGI, outermost of the user middleware, so a 413 or a
CORS answer carries them too) and by the fast path (`api.fastpath`), which answers ahead of
the middleware and sends `JSON_HEADERS` with its answers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

Headers = Mapping[str, str]

_COMMON: Headers = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
JSON_POLICY: Headers = {
    **_COMMON,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none';"
    " form-action 'none'",
}
_CDN = "https://cdn.jsdelivr.net"  # where FastAPI's docs pages load Swagger UI and ReDoc from
DOCS_POLICY: Headers = {
    **_COMMON,
    "Content-Security-Policy": f"default-src 'none'; script-src 'unsafe-inline' {_CDN};"
    f" style-src 'unsafe-inline' {_CDN} https://fonts.googleapis.com;"
    " font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com;"
    " connect-src 'self'; worker-src blob:; frame-ancestors 'none'; base-uri 'none'",
}
UI_POLICY: Headers = {  # the /ui dashboard: its own scripts, styles and plots, nothing else
    **_COMMON,
    "Content-Security-Policy": "default-src 'self'; script-src 'self';"
    " style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self';"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}
# (path prefix, headers): the longest matching prefix wins (by whole path segments); ""
# matches every path.
POLICIES: tuple[tuple[str, Headers], ...] = (
    ("", JSON_POLICY),
    ("/docs", DOCS_POLICY),
    ("/redoc", DOCS_POLICY),
    ("/ui", UI_POLICY),
)

RawHeaders = list[tuple[bytes, bytes]]


def _raw(headers: Headers) -> RawHeaders:
    return [(name.lower().encode(), value.encode()) for name, value in headers.items()]


_BY_PREFIX: list[tuple[str, RawHeaders]] = sorted(
    ((prefix, _raw(headers)) for prefix, headers in POLICIES), key=lambda p: -len(p[0])
)
JSON_HEADERS: RawHeaders = _raw(JSON_POLICY)


def headers_for(path: str) -> RawHeaders:
    """The raw headers of the policy whose prefix matches `path` longest (whole segments:
    `/docs` matches `/docs` and `/docs/…`, not `/docsx`)."""
    return next(
        raw
        for prefix, raw in _BY_PREFIX
        if not prefix or path == prefix or path.startswith(prefix.rstrip("/") + "/")
    )


class SecurityHeaders:
    """Adds the path's policy to every HTTP response (a header the app set itself stays)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = headers_for(scope["path"])

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [h for h in extra if h[0] not in present]
                message["headers"] = [*message.get("headers", ()), *missing]
            await send(message)

        await self.app(scope, receive, send_with_headers)
