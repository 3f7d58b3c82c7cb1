"""The two hottest routes answered ahead of FastAPI's per-request machinery, happy path only.

`GET /v1/customers/{customer_id}/recommendations` and `POST /v1/personalize` are answered by
`TouchpointApp` (the app class) before FastAPI's middleware stack — counting and timing
themselves in the same Prometheus series, answering an unexpected error with the same 500
problem — or, when CORS is configured, by the pure-ASGI `FastPath` middleware innermost in
the user stack (so CORS, metrics and the size limit wrap it).

Only a request the fast path fully accepts is answered here: a valid API key (checked with
the same `api.auth.verify`, cached in-process), query parameters that pass the declared
route's rules, a JSON body of declared length within the limit that the route's own pydantic
model accepts. Anything else — a missing key, a bad parameter, an invalid body — is handed
to the declared FastAPI route (the body replayed), so every 401/403/413/422 problem comes
from one place. The FastAPI routes stay registered: they document the API in the OpenAPI
schema and serve whatever this module passes on.

Why: measured with py-spy under `bench/api_load.py`, routing through ~40 routes, dependency
solving, request validation and Starlette's response/exception wrappers cost ~20% of the CPU
of a recommendations request and ~30% of a personalize one, and the middleware layers with
their `send` wrappers another ~13%.
"""

from __future__ import annotations

import logging
import re
import time
from functools import partial
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import auth
from api.deps import AppParts, parts_of
from api.problems import Problem, TooManyRequests, problem_response
from api.responses import OPTIONS
from api.routes.personalize import PersonalizeRequest, page_body, slot_requests
from api.routes.recommendations import RECOMMENDATIONS_K, excluded_ids, list_body
from api.security_headers import JSON_HEADERS
from api.services.limits import client_address
from api.services.recommend import SlotRequest, answer
from contracts.requests import (
    EXCLUDE_MAX,
    FILTER_MAX,
    ID_MAX,
    ID_PATTERN,
    K_MAX,
    K_MIN,
    QUERY_MAX,
    SCOPE_PERSONALIZE,
)
from contracts.schema import CHANNELS

log = logging.getLogger("touchpoint.api")
PREFIX, SUFFIX = "/v1/customers/", "/recommendations"
PERSONALIZE = "/v1/personalize"
# The declared route's rules (`api.fields`), checked by hand: the same declarations.
CUSTOMER_ID = re.compile(ID_PATTERN)
_HEADERS = [(b"content-type", b"application/json"), *JSON_HEADERS]
_REFUSED = object()  # `_key_id`: the key check failed


class _Route:
    """What the metrics label by, as FastAPI's routing would have set `scope["route"]`."""

    def __init__(self, template: str) -> None:
        self.path_format = self.path = template


RECOMMENDATIONS_ROUTE = _Route(PREFIX + "{customer_id}" + SUFFIX)
PERSONALIZE_ROUTE = _Route(PERSONALIZE)


def parse(customer_id: str, query: bytes) -> tuple[str | None, SlotRequest] | None:
    """(channel, the slot) of a recommendations request, or None when the declared route
    would refuse it (or might read it differently): then that route answers."""
    if len(customer_id) > ID_MAX or not CUSTOMER_ID.match(customer_id) or len(query) > QUERY_MAX:
        return None
    params = _params(query) if query else {}
    channel = params.get("channel")
    if channel is not None and channel not in CHANNELS:
        return None
    k = RECOMMENDATIONS_K
    raw_k = params.get("k")
    if raw_k is not None:
        text = raw_k.strip()
        if not text.lstrip("+-").isdigit() or not text.isascii():
            return None
        k = int(text)
        if not K_MIN <= k <= K_MAX:
            return None
    category, context_item = params.get("category"), params.get("context_item")
    exclude = params.get("exclude")
    if (
        len(category or "") > FILTER_MAX
        or len(context_item or "") > FILTER_MAX
        or len(exclude or "") > EXCLUDE_MAX
    ):
        return None
    excluded = excluded_ids(exclude)
    return channel, SlotRequest("recommendations", "product", k, category, excluded, context_item)


def _params(query: bytes) -> dict[str, str]:
    """A query string's parameters, as `parse_qsl(..., keep_blank_values=True)` reads them
    (split by hand when nothing is escaped, the usual case)."""
    text = query.decode("latin-1")
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    return dict(pair.partition("=")[::2] for pair in text.split("&") if pair)  # type: ignore[misc]


def route_of(scope: Scope) -> _Route | None:
    """Which fast route a request is for (None: not one of them)."""
    if scope["type"] != "http":
        return None
    path: str = scope["path"]
    method = scope["method"]
    if method == "GET":
        if (
            path.startswith(PREFIX)
            and path.endswith(SUFFIX)
            and len(path) > len(PREFIX) + len(SUFFIX)
            and "/" not in path[len(PREFIX) : -len(SUFFIX)]
            and not _declared_length(scope)
        ):
            return RECOMMENDATIONS_ROUTE
    elif method == "POST" and path == PERSONALIZE:
        return PERSONALIZE_ROUTE
    return None


def _declared_length(scope: Scope) -> int | None:
    """The Content-Length (0 for a chunked body; None when there is no body)."""
    for name, value in scope["headers"]:
        if name == b"content-length":
            return int(value) if value.isdigit() else 0
        if name == b"transfer-encoding":
            return 0
    return None


def _json_body(scope: Scope, limit: int) -> bool:
    """A body the fast path may read: JSON, of declared length within the limit."""
    length = _declared_length(scope)
    if not length or length > limit:
        return False
    return any(
        name == b"content-type" and value.split(b";")[0].strip() == b"application/json"
        for name, value in scope["headers"]
    )


async def _read(receive: Receive) -> bytes | None:
    """The whole request body (None when the client went away)."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for the declared route, starting with the body already read."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def _respond(send: Send, body: bytes) -> None:
    headers = [*_HEADERS, (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def serve(
    app: Any, route: _Route, scope: Scope, receive: Receive, send: Send, declared: ASGIApp,
    *, own_metrics: bool,
) -> None:  # fmt: skip
    """Answer a request for `route`, or pass it on to `declared` (the FastAPI stack, or the
    rest of it). With `own_metrics` (nothing of the usual stack wraps this) an answer is
    counted and timed here, and an unexpected error becomes a counted 500 problem."""
    started = time.perf_counter()
    handler = _recommendations if route is RECOMMENDATIONS_ROUTE else _personalize
    try:
        passed = await handler(app, scope, receive, send)
    except TooManyRequests as exc:  # a rate limit: refused here, counted once
        await _problem(429, "Too Many Requests", exc.detail, scope, **exc.details)(
            scope, receive, send
        )
        status = 429
    except Exception:
        if not own_metrics:
            raise
        log.exception("unhandled error on %s", scope["path"])
        await _problem(500, "Internal Server Error", "unexpected error; see server logs", scope)(
            scope, receive, send
        )
        status = 500
    else:
        if passed is not None:  # not taken: the declared route answers and is measured
            await declared(scope, passed, send)
            return
        status = 200
    if own_metrics:
        parts_of(app).metrics.observe(
            route.path, scope["method"], status, time.perf_counter() - started
        )


def _problem(status: int, title: str, detail: str, scope: Scope, **extra: Any) -> Any:
    """A problem answer with the JSON security headers (this path runs ahead of them)."""
    response = problem_response(status, title, detail, scope["path"], **extra)
    response.raw_headers.extend(JSON_HEADERS)
    return response


def _answer(app: Any, scope: Scope, key_id: Any, **request: Any) -> Any:
    """`api.services.recommend.answer` with the app's serving state, rules and metrics, and
    the request's rate limits sent ahead of its read (raises `TooManyRequests`)."""
    parts = parts_of(app)
    pending = parts.limits.submit(parts.serving, SCOPE_PERSONALIZE, key_id, client_address(scope))
    admit = partial(parts.limits.settle, parts.serving, pending) if pending else None
    return answer(
        parts.serving, parts.rules.current(), metrics=parts.metrics, admit=admit, **request
    )


async def _key_id(app: Any, scope: Scope) -> Any:
    """The request's key id (None: the API runs open), or `_REFUSED` when the key check
    failed: the declared route then answers (and counts the failure)."""
    try:
        return await auth.verify(
            app, auth.key_from_headers(scope["headers"]), SCOPE_PERSONALIZE,
            address=client_address(scope), count_failures=False,
        )  # fmt: skip
    except Problem:
        return _REFUSED


async def _recommendations(app: Any, scope: Scope, receive: Receive, send: Send) -> Any:
    """None when answered, else the `receive` the declared route should answer with."""
    path = scope["path"]
    customer_id = path[len(PREFIX) : -len(SUFFIX)]
    parsed = parse(customer_id, scope["query_string"])
    if parsed is None:
        return receive
    key_id = await _key_id(app, scope)
    if key_id is _REFUSED:
        return receive
    scope["route"] = RECOMMENDATIONS_ROUTE
    channel, request = parsed
    head, (slot,), task = await _answer(
        app, scope, key_id, customer_id=customer_id, channel=channel, requests=[request]
    )
    await _respond(send, orjson.dumps(list_body(head, slot, channel), option=OPTIONS))
    if task is not None:
        await task()
    return None


async def _personalize(app: Any, scope: Scope, receive: Receive, send: Send) -> Any:
    """None when answered, else the `receive` the declared route should answer with."""
    if not _json_body(scope, parts_of(app).settings.max_body_bytes):
        return receive
    body = await _read(receive)
    if body is None:  # the client went away
        return None
    try:
        page = PersonalizeRequest.model_validate(orjson.loads(body))
    except (orjson.JSONDecodeError, ValidationError):
        return _replay(body, receive)
    key_id = await _key_id(app, scope)
    if key_id is _REFUSED:
        return _replay(body, receive)
    scope["route"] = PERSONALIZE_ROUTE
    head, slots, task = await _answer(
        app, scope, key_id, customer_id=page.customer_id, channel=page.channel,
        requests=slot_requests(page), placement_from_name=True,
    )  # fmt: skip
    await _respond(send, orjson.dumps(page_body(head, slots, page.channel), option=OPTIONS))
    if task is not None:
        await task()
    return None


class FastPath:
    """Pure ASGI middleware form (used when CORS is configured, innermost in the stack so
    CORS, metrics and the size limit wrap it): answers what it takes, passes the rest on."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope)
        if route is None:
            await self.app(scope, receive, send)
        else:
            await serve(scope["app"], route, scope, receive, send, self.app, own_metrics=False)


class TouchpointApp(FastAPI):
    """FastAPI, with the fast routes answered before its middleware stack (when no CORS is
    configured: then nothing of that stack would change the answer but its cost)."""

    fast_ahead = True
    parts: AppParts  # what the app holds (`api.deps`), set by `api.app.create_app`

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = route_of(scope) if self.fast_ahead else None
        if route is None:
            await super().__call__(scope, receive, send)
            return
        scope["app"] = self
        await serve(self, route, scope, receive, send, super().__call__, own_metrics=True)
