"""HTTP middleware: request bounds, CORS and security headers.

The size limit is checked twice: a declared `Content-Length` above `max_body_bytes` is
refused before any byte is read; a body sent without one (chunked) is counted as it
streams and refused once it passes the limit. Both answer 413 problem+json. A query string
longer than `contracts.requests.QUERY_MAX` bytes answers 414 before anything parses it.
Security headers: `api.security_headers`.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.problems import problem_response
from api.security_headers import SecurityHeaders
from api.settings import ApiSettings
from contracts.requests import QUERY_MAX


class BodySizeLimit:
    """Pure ASGI (no per-request task or buffering): cheap on the hot GET path."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if len(scope.get("query_string", b"")) > QUERY_MAX:
            response = problem_response(
                414, "URI Too Long", f"query string longer than {QUERY_MAX} bytes",
                scope.get("path", ""),
            )  # fmt: skip
            await response(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            response = problem_response(
                413, "Content Too Large", self._detail(), scope.get("path", "")
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # Raised inside the app's body read: the problem handlers answer 413.
                    raise HTTPException(413, self._detail())
            return message

        await self.app(scope, limited, send)

    def _detail(self) -> str:
        return f"request body larger than {self.max_bytes} bytes"


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def install(app: FastAPI, settings: ApiSettings) -> None:
    """Size limit inside, CORS outside (so even a 413 carries the CORS headers), security
    headers outermost (on every answer of the stack)."""
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            max_age=600,
        )
    app.add_middleware(SecurityHeaders)
