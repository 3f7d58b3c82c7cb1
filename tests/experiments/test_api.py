"""The experiments routes over real HTTP (TestClient) against a real Redis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from api.app import create_app
from api.routes import experiments as routes
from api.settings import ApiSettings
from store.config import StoreConfig
from tests.experiments.factories import definition


def app_with_experiments(settings: ApiSettings) -> FastAPI:
    """The real app; the experiments router is added when the factory does not wire it yet."""
    app = create_app(settings)
    if not any(getattr(r, "path", "").startswith("/v1/experiments") for r in app.routes):
        app.include_router(routes.router)

    @app.get("/test/served/{customer_id}")  # drives the serving hook like a serving route
    async def served(request: Request, customer_id: str, items: int = 1) -> dict[str, Any]:
        body: dict[str, Any] = {
            "recommendation_id": f"rec-{customer_id}",
            "items": [{"item_id": "i1"}] * items,
        }
        await routes.tag_and_record(request, body, customer_id=customer_id, channel="web")
        return body

    return app


@pytest.fixture
def client(store_config: StoreConfig) -> Iterator[TestClient]:
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(app_with_experiments(settings)) as client:
        yield client


def test_put_get_list_and_reweight_keeps_allocation(client: TestClient) -> None:
    response = client.put("/v1/experiments/home", json=definition("home"))
    assert response.status_code == 200, response.text
    assert client.get("/v1/experiments/home").json()["allocation"]["control"] == [[0, 5000]]
    response = client.put("/v1/experiments/home", json=definition("home", weights=(60, 40)))
    assert response.json()["allocation"] == {"control": [[0, 5000], [9000, 10000]],
                                             "v1": [[5000, 9000]]}  # fmt: skip
    assert [e["key"] for e in client.get("/v1/experiments").json()] == ["home"]


def test_bad_definitions_are_422_problems_naming_the_reason(client: TestClient) -> None:
    response = client.put("/v1/experiments/home", json=definition("home", weights=(70, 50)))
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "sum to 100" in response.json()["detail"]
    response = client.put("/v1/experiments/home", json=definition("other"))
    assert response.status_code == 422 and "differs" in response.json()["detail"]
    assert client.get("/v1/experiments/missing").status_code == 404
    assert client.get("/v1/experiments/missing/results").status_code == 404


def test_assignment_is_sticky_and_reports_the_strategy(client: TestClient) -> None:
    client.put("/v1/experiments/home", json=definition("home", targeting={"channels": ["web"]}))
    first = client.get("/v1/experiments/home/assignment/c42", params={"channel": "web"}).json()
    again = client.get("/v1/experiments/home/assignment/c42", params={"channel": "web"}).json()
    assert first == again and first["reason"] == "assigned"
    assert first["strategy"]["model"] in {"als", "lightfm"}
    other = client.get("/v1/experiments/home/assignment/c42", params={"channel": "email"}).json()
    assert (other["variant"], other["reason"]) == (None, "not_targeted")


def test_exposure_only_when_served_and_conversions_reach_the_results(
    client: TestClient,
) -> None:
    client.put("/v1/experiments/home", json=definition("home"))
    shown = client.get("/test/served/alice").json()
    assert [e["key"] for e in shown["experiments"]] == ["home"]
    empty = client.get("/test/served/bob", params={"items": 0}).json()
    assert [e["key"] for e in empty["experiments"]] == ["home"]  # tagged, not recorded
    results = client.get("/v1/experiments/home/results").json()
    assert sum(v["users"] for v in results["variants"]) == 1
    csv = client.get("/v1/experiments/home/results", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert csv.text.splitlines()[0].startswith("variant,")
