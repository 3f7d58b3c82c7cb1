"""`GET /v1/customers/{customer_id}/recommendations` answered without FastAPI's per-request work.

The hottest route, answered by `TouchpointApp` (the app class) before FastAPI's middleware
stack — it counts and times itself in the same Prometheus series and answers unexpected
errors with the same 500 problem — or, when CORS is configured, by a pure-ASGI middleware
innermost in the user stack (so CORS, metrics and the size limit wrap it). Either way it
matches the path itself (a request with a body goes the usual way), checks the API key
with the same `api.auth.verify` as every other route (cached in-process), validates the
query by hand with the same rules and the same 422 problem+json (`errors[].pointer` such as
`query/k`) as the declared FastAPI route, and writes the orjson body straight to the server.
The FastAPI route in `api.routes.recommendations` stays registered: it documents the
parameters in the OpenAPI schema and serves any request this one does not match.

Why: measured with py-spy under `bench/api_load.py`, routing through ~40 routes, dependency
solving, pydantic query validation and Starlette's response/exception wrappers cost ~20% of
the CPU of a request on this route, and the middleware layers with their `send` wrappers
another ~13%.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from api import auth
from api.metrics import Metrics
from api.problems import Problem, problem_response
from api.recommend import SlotRequest, answer
from api.responses import OPTIONS
from api.routes.recommendations import CHANNELS, list_body
from api.services.deps import rules_of

log = logging.getLogger("touchpoint.api")
PREFIX, SUFFIX = "/v1/customers/", "/recommendations"
TEMPLATE = PREFIX + "{customer_id}" + SUFFIX
SCOPE = "personalize:read"
CUSTOMER_ID = re.compile(r"^[^{}\s]+$")
_HEADERS = [(b"content-type", b"application/json")]
_CHANNEL_MSG = "Input should be " + ", ".join(f"'{c}'" for c in CHANNELS[:-1])
_CHANNEL_MSG += f" or '{CHANNELS[-1]}'"
NOT_INT = "Input should be a valid integer, unable to parse string as an integer"


class _Route:
    path_format = path = TEMPLATE


ROUTE = _Route()


class Invalid(Exception):
    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(errors)
        self.errors = errors


def _error(errors: list[dict[str, str]], pointer: str, detail: str) -> None:
    errors.append({"pointer": pointer, "detail": detail})


def _text(errors: list[dict[str, str]], name: str, value: str | None, most: int) -> str | None:
    if value is not None and len(value) > most:
        _error(errors, f"query/{name}", f"String should have at most {most} characters")
    return value


def parse(customer_id: str, query: bytes) -> tuple[str | None, SlotRequest]:
    """(channel, the slot) from the path's customer id and the query; raises `Invalid`."""
    errors: list[dict[str, str]] = []
    if len(customer_id) > 128:
        _error(errors, "path/customer_id", "String should have at most 128 characters")
    elif not CUSTOMER_ID.match(customer_id):
        _error(errors, "path/customer_id", f"String should match pattern '{CUSTOMER_ID.pattern}'")
    params = dict(parse_qsl(query.decode("latin-1"), keep_blank_values=True)) if query else {}
    channel = params.get("channel")
    if channel is not None and channel not in CHANNELS:
        _error(errors, "query/channel", _CHANNEL_MSG)
    k = 10
    raw_k = params.get("k")
    if raw_k is not None:
        text = raw_k.strip()
        if not text.lstrip("+-").isdigit() or not text.isascii():
            _error(errors, "query/k", NOT_INT)
        else:
            k = int(text)
            if k < 1:
                _error(errors, "query/k", "Input should be greater than or equal to 1")
            elif k > 100:
                _error(errors, "query/k", "Input should be less than or equal to 100")
    category = _text(errors, "category", params.get("category"), 128)
    context_item = _text(errors, "context_item", params.get("context_item"), 128)
    exclude = _text(errors, "exclude", params.get("exclude"), 4096)
    if errors:
        raise Invalid(errors)
    excluded = frozenset(x for x in (exclude or "").split(",") if x)
    return channel, SlotRequest("recommendations", "product", k, category, excluded, context_item)


def matches(scope: Scope) -> bool:
    """A GET of the recommendations path (one path segment for the customer id)."""
    path: str = scope.get("path", "")
    return (
        scope["type"] == "http"
        and scope["method"] == "GET"
        and path.startswith(PREFIX)
        and path.endswith(SUFFIX)
        and len(path) > len(PREFIX) + len(SUFFIX)
        and "/" not in path[len(PREFIX) : -len(SUFFIX)]
    )


def _has_body(scope: Scope) -> bool:
    return any(name in (b"content-length", b"transfer-encoding") for name, _ in scope["headers"])


async def handle(scope: Scope, receive: Receive, send: Send, *, own_metrics: bool) -> None:
    """Answer one matched request. With `own_metrics` (when nothing of the usual stack wraps
    it) it also counts and times itself and turns an unexpected error into a 500 problem."""
    app = scope["app"]
    started = time.perf_counter()
    status = 500
    try:
        status = await _answer(app, scope, receive, send)
    except Exception:
        if not own_metrics:
            raise
        log.exception("unhandled error on %s", scope["path"])
        await problem_response(
            500, "Internal Server Error", "unexpected error; see server logs", scope["path"]
        )(scope, receive, send)
    finally:
        metrics: Metrics | None = getattr(app.state, "metrics", None)
        if own_metrics and metrics is not None:
            metrics.observe(TEMPLATE, "GET", status, time.perf_counter() - started)


async def _answer(app: Any, scope: Scope, receive: Receive, send: Send) -> int:
    path = scope["path"]
    scope["route"] = ROUTE  # what the metrics label by, as routing would have set it
    try:
        await auth.verify(app, auth.key_from_headers(scope["headers"]), SCOPE)
        channel, request = parse(path[len(PREFIX) : -len(SUFFIX)], scope["query_string"])
    except Problem as exc:
        await problem_response(exc.status, exc.title, exc.detail, path, **exc.extra)(
            scope, receive, send
        )
        return exc.status
    except Invalid as exc:
        first = exc.errors[0]
        detail = f"{first['pointer']}: {first['detail']}"
        response = problem_response(422, "Unprocessable Content", detail, path, errors=exc.errors)
        await response(scope, receive, send)
        return 422
    customer_id = path[len(PREFIX) : -len(SUFFIX)]
    head, (slot,), task = await answer(
        app.state.serving, rules_of(app), customer_id=customer_id, channel=channel,
        requests=[request], metrics=getattr(app.state, "metrics", None),
    )  # fmt: skip
    body = orjson.dumps(list_body(head, slot, channel), option=OPTIONS)
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
    if task is not None:
        await task()
    return 200


class FastRecommendations:
    """Pure ASGI middleware form (used when CORS is configured, innermost in the stack so
    CORS, metrics and the size limit wrap it): answers the GET, passes everything else on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if matches(scope):
            await handle(scope, receive, send, own_metrics=False)
        else:
            await self.app(scope, receive, send)


class TouchpointApp(FastAPI):
    """FastAPI, with the recommendations GET answered before its middleware stack (when no
    CORS is configured: then nothing of that stack would change the answer but its cost)."""

    fast_ahead = True

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.fast_ahead and matches(scope) and not _has_body(scope):
            scope["app"] = self
            await handle(scope, receive, send, own_metrics=True)
            return
        await super().__call__(scope, receive, send)
