"""The hand-validated recommendations fast path answers exactly as the declared FastAPI route.

The reference is the same app with the fast path removed, so FastAPI's own dependency
solving and pydantic validation produce the expected bodies.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fastpath import FastRecommendations, parse
from api.settings import ApiSettings
from tests.api.personal_factories import bundle, catalogue, publish


@pytest.fixture
def clients(redis_client, store_config):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    fast = create_app(settings)
    slow = create_app(settings)
    slow.user_middleware = [m for m in slow.user_middleware if m.cls is not FastRecommendations]
    with TestClient(fast) as a, TestClient(slow) as b:
        yield a, b


BAD = [
    ("c1", {"k": "0"}),
    ("c1", {"k": "101"}),
    ("c1", {"k": "abc"}),
    ("c1", {"k": ""}),
    ("c1", {"k": "2.5"}),
    ("c1", {"channel": "fax"}),
    ("c1", {"channel": ""}),
    ("c1", {"category": "x" * 129}),
    ("c1", {"context_item": "x" * 129}),
    ("c1", {"exclude": "x" * 4097}),
    ("c1", {"k": "0", "channel": "fax"}),
    ("c%7B1%7D", {}),
    ("c%201", {}),
    ("x" * 129, {}),
]


@pytest.mark.parametrize(("customer", "params"), BAD)
def test_bad_input_gets_the_same_422_problem(clients, customer, params):
    fast, slow = clients
    path = f"/v1/customers/{customer}/recommendations"
    a, b = fast.get(path, params=params), slow.get(path, params=params)
    assert a.status_code == b.status_code == 422
    assert a.headers["content-type"] == b.headers["content-type"] == "application/problem+json"
    assert a.json() == b.json()


GOOD = [
    ("c1", {}),
    ("c1", {"k": "3", "channel": "web"}),
    ("c1", {"k": "5", "category": "Home", "exclude": "p12,p13"}),
    ("c1", {"k": "4", "context_item": "p2"}),
    ("c3", {"k": "100", "channel": "app"}),
    ("c2", {"channel": "email"}),
    ("nobody", {"k": "+2"}),
]


@pytest.mark.parametrize(("customer", "params"), GOOD)
def test_answers_match_the_declared_route(clients, customer, params):
    fast, slow = clients
    path = f"/v1/customers/{customer}/recommendations"
    a, b = fast.get(path, params=params).json(), slow.get(path, params=params).json()
    assert a.pop("recommendation_id") != b.pop("recommendation_id")
    assert a == b and (a["items"] or a.get("suppressed"))


def test_other_methods_and_paths_pass_through(clients):
    fast, _ = clients
    assert fast.post("/v1/customers/c1/recommendations").status_code == 405
    assert fast.get("/v1/customers/c1/offers").status_code == 200
    assert fast.get("/v1/customers/a/b/recommendations").status_code == 404


def test_parse_reads_the_last_repeated_parameter_and_splits_exclude():
    channel, request = parse("c1", b"k=3&k=4&channel=app&exclude=a,,b")
    assert channel == "app" and request.k == 4 and request.exclude == frozenset({"a", "b"})


def test_with_cors_configured_the_fast_path_answers_inside_cors(redis_client, store_config):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url,
        cors_origins=["https://shop.example"],
    )  # fmt: skip
    app = create_app(settings)
    assert app.fast_ahead is False
    with TestClient(app) as client:
        response = client.get(
            "/v1/customers/c1/recommendations", headers={"Origin": "https://shop.example"}
        )
        bad = client.get("/v1/customers/c1/recommendations?k=0")
    assert response.headers["access-control-allow-origin"] == "https://shop.example"
    assert response.json()["items"] and bad.json()["errors"][0]["pointer"] == "query/k"


def test_an_unexpected_error_is_a_counted_500_problem(clients, monkeypatch):
    fast, _ = clients

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.fastpath.answer", broken)
    response = fast.get("/v1/customers/c1/recommendations")
    assert response.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    metrics = fast.get("/metrics").text
    assert 'touchpoint_errors_total{route="/v1/customers/{customer_id}/recommendations"} 1.0' in (
        metrics
    )
