"""Every kind of the error family leaves the API as one problem+json status, mapped in one
place (`api.problems.STATUSES`): through the real app and a real Redis, first with a route
that raises each kind, then with real routes whose bodies must stay as they were.
(`Invalid` is the routes' name of `contracts.errors.InvalidInput`.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import Forbidden, Gone, Invalid, Unauthorized
from api.settings import ApiSettings
from contracts.errors import Conflict, DataError, NotFound, TouchpointError, Unavailable
from experiments.errors import ExperimentNotFound, InvalidExperiment
from recsys.errors import ModelRejected, RegistryError
from store.config import StoreConfig
from store.embedded import EmbeddedRedisError
from tests.experiments.factories import definition

PROBLEMS = "https://touchpoint.dev/problems/"
RAISED: list[Exception] = []  # what the test route raises next


@pytest.fixture
def app(store_config: StoreConfig) -> FastAPI:
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    app = create_app(settings)

    async def raise_next() -> None:
        raise RAISED.pop()

    app.add_api_route("/test/raise", raise_next)
    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def problem(kind: str, status: int, title: str, detail: str, instance: str, **extra: Any) -> dict:
    body = {"type": PROBLEMS + kind, "title": title, "status": status, "detail": detail}
    return body | {"instance": instance, **extra}


@pytest.mark.parametrize(
    ("error", "status", "title", "detail", "extra"),
    [
        (Invalid("k must be positive"), 422, "Unprocessable Content",
         "k must be positive", {}),
        (Invalid("cursor is not one this API issued", pointer="cursor"), 422,
         "Unprocessable Content", "cursor is not one this API issued", {"pointer": "cursor"}),
        (DataError("events.csv", 2, "timestamp", "bad"), 422, "Unprocessable Content",
         "events.csv, row 2, column 'timestamp': bad", {}),
        (InvalidExperiment("body 'home'", "weights must sum to 100", "variants"), 422,
         "Unprocessable Content", "weights must sum to 100", {"field": "variants"}),
        (NotFound("unknown item 'i9'"), 404, "Not Found", "unknown item 'i9'", {}),
        (ExperimentNotFound("exp9"), 404, "Not Found", "no experiment with key 'exp9'", {}),
        (RegistryError("unknown model version 'v9'"), 404, "Not Found",
         "unknown model version 'v9'", {}),
        (Gone("segments version s1 has expired"), 410, "Gone",
         "segments version s1 has expired", {}),
        (Conflict("another run holds the lock"), 409, "Conflict",
         "another run holds the lock", {}),
        (ModelRejected("worse than popularity"), 409, "Conflict", "worse than popularity", {}),
        (Unavailable("Redis is not connected"), 503, "Service Unavailable",
         "Redis is not connected", {}),
        (EmbeddedRedisError("redis-server failed to start"), 503, "Service Unavailable",
         "redis-server failed to start", {}),
        (Unauthorized("malformed API key"), 401, "Unauthorized", "malformed API key", {}),
        (Forbidden("API key k1 lacks the 'admin' scope", scope="admin"), 403, "Forbidden",
         "API key k1 lacks the 'admin' scope", {"scope": "admin"}),
        (TouchpointError("internal detail"), 500, "Internal Server Error",
         "unexpected error; see server logs", {}),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)  # fmt: skip
def test_each_kind_is_one_status_and_problem_type(
    client: TestClient, error: Exception, status: int, title: str, detail: str, extra: dict
) -> None:
    RAISED.append(error)
    response = client.get("/test/raise")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    kind = title.lower().replace(" ", "-")
    assert response.json() == problem(kind, status, title, detail, "/test/raise", **extra)
    assert ("www-authenticate" in response.headers) == (status == 401)


def test_an_error_outside_the_family_is_a_500_that_says_nothing(client: TestClient) -> None:
    RAISED.append(ZeroDivisionError("secret internals"))
    response = client.get("/test/raise")
    assert response.json() == problem(
        "internal-server-error", 500, "Internal Server Error",
        "unexpected error; see server logs", "/test/raise",
    )  # fmt: skip


def test_a_bad_experiment_definition_keeps_its_422_body(client: TestClient) -> None:
    response = client.put("/v1/experiments/home", json=definition("home", weights=(70, 50)))
    assert response.json() == problem(
        "unprocessable-content", 422, "Unprocessable Content",
        "variant weights must sum to 100, not 120", "/v1/experiments/home", field=None,
    )  # fmt: skip


def test_an_unknown_experiment_keeps_its_404_body(client: TestClient) -> None:
    response = client.get("/v1/experiments/missing")
    assert response.json() == problem(
        "not-found", 404, "Not Found", "no experiment with key 'missing'",
        "/v1/experiments/missing",
    )  # fmt: skip


def test_nothing_published_keeps_its_503_body(client: TestClient) -> None:
    response = client.get("/v1/items/i1/similar")
    assert response.json() == problem(
        "service-unavailable", 503, "Service Unavailable",
        "no serving version has been published yet", "/v1/items/i1/similar",
    )  # fmt: skip
