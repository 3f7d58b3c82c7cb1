"""RFC 9457 problem details: every error leaves the API as `application/problem+json`.

Errors are the family of `contracts.errors` (a domain's own, or the routes' `NotFound`,
`Invalid`, `Unavailable`…); `STATUSES` maps each kind to a status once, and one handler
writes the body; validation errors point at the offending field with a JSON pointer.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from contracts.errors import Conflict, InvalidInput, NotFound, TouchpointError, Unavailable

log = logging.getLogger("touchpoint.api")
PROBLEM_JSON = "application/problem+json"
Problem = TouchpointError  # what the API reports: any error of the family
Invalid = InvalidInput  # the routes' word for a request refused as it stands (422)


class Unauthorized(TouchpointError):
    """No API key, or one that is malformed, unknown or revoked."""


class Forbidden(TouchpointError):
    """The API key lacks the scope the route needs (`details`: the scope)."""


class PreconditionFailed(Conflict):
    """A conditional request's `If-Match` names a version that is no longer current."""


class PreconditionRequired(InvalidInput):
    """A change that needs `If-Match` (optimistic concurrency) was sent without it."""


class TooManyRequests(TouchpointError):
    """A rate limit or the failed-authentication limit was reached (`details`: `retry_after`
    seconds, sent as the `Retry-After` header too)."""


class Gone(NotFound):
    """It existed but has expired (the segments version a cursor points into)."""


STATUSES: tuple[tuple[type[TouchpointError], int, str], ...] = (  # first match wins
    (Unauthorized, 401, "Unauthorized"),
    (Forbidden, 403, "Forbidden"),
    (TooManyRequests, 429, "Too Many Requests"),
    (Gone, 410, "Gone"),
    (PreconditionFailed, 412, "Precondition Failed"),
    (PreconditionRequired, 428, "Precondition Required"),
    (NotFound, 404, "Not Found"),
    (InvalidInput, 422, "Unprocessable Content"),
    (Conflict, 409, "Conflict"),
    (Unavailable, 503, "Service Unavailable"),
)


def status_of(error: TouchpointError) -> tuple[int, str]:
    """The status and title of `error`'s kind; 500 for a family error of no kind."""
    return next(
        ((status, title) for kind, status, title in STATUSES if isinstance(error, kind)),
        (500, "Internal Server Error"),
    )


def problem_response(status: int, title: str, detail: str, instance: str, **extra: Any) -> Response:
    body = {
        "type": f"https://touchpoint.dev/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
        **extra,
    }
    headers = {"WWW-Authenticate": "ApiKey"} if status == 401 else None
    if status == 429 and "retry_after" in extra:
        headers = {"Retry-After": str(extra["retry_after"])}
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    """`('body', 'slots', 0, 'k')` → `#/slots/0/k`; query and path fields keep their place."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
        return "#/" + "/".join(str(p) for p in parts)
    return "/".join(str(p) for p in parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(TouchpointError)
    async def _problem(request: Request, exc: TouchpointError) -> Response:
        status, title = status_of(exc)
        if status == 500:  # a step failed in a way no kind says: not the client's to read
            return await _unexpected(request, exc)
        return problem_response(status, title, exc.detail, request.url.path, **exc.details)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"pointer": _pointer(err.get("loc", ())), "detail": err.get("msg", "invalid")}
            for err in exc.errors()
        ]
        first = errors[0] if errors else {"pointer": "", "detail": "invalid request"}
        return problem_response(
            422,
            "Unprocessable Content",
            f"{first['pointer']}: {first['detail']}",
            request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        title = {404: "Not Found", 405: "Method Not Allowed", 413: "Content Too Large"}.get(
            exc.status_code, "Error"
        )
        return problem_response(exc.status_code, title, str(exc.detail), request.url.path)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(
            500, "Internal Server Error", "unexpected error; see server logs", request.url.path
        )
