"""RFC 9457 problem details: every error leaves the API as `application/problem+json`.

Domain errors carry their meaning (`NotFound`, `Invalid`, `Unavailable`…); one handler maps
them to a status; validation errors point at the offending field with a JSON pointer.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

log = logging.getLogger("touchpoint.api")
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error the API reports; subclasses fix status and title."""

    status = 500
    title = "Internal Server Error"

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class NotFound(Problem):
    status, title = 404, "Not Found"


class Invalid(Problem):
    status, title = 422, "Unprocessable Content"


class Gone(Problem):
    status, title = 410, "Gone"


class Unauthorized(Problem):
    status, title = 401, "Unauthorized"


class Forbidden(Problem):
    status, title = 403, "Forbidden"


class Unavailable(Problem):
    status, title = 503, "Service Unavailable"


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
    return Response(orjson.dumps(body), status, headers=headers, media_type=PROBLEM_JSON)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    """`('body', 'slots', 0, 'k')` → `#/slots/0/k`; query and path fields keep their place."""
    parts = list(loc)
    if parts and parts[0] == "body":
        parts = parts[1:]
        return "#/" + "/".join(str(p) for p in parts)
    return "/".join(str(p) for p in parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return problem_response(exc.status, exc.title, exc.detail, request.url.path, **exc.extra)

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
