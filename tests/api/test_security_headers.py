"""Security headers on every answer (fast path, declared routes, errors) and request bounds."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security_headers import headers_for
from api.settings import ApiSettings
from contracts.requests import QUERY_MAX
from store.apikeys import create_key
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

RECS = "/v1/customers/c1/recommendations"
PAGE = {"customer_id": "c1", "channel": "web", "slots": [{"name": "a", "kind": "product"}]}


@pytest.fixture
def client(redis_client, store_config):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, max_body_bytes=1024
    )
    with TestClient(create_app(settings)) as c:
        yield c


def assert_json_policy(response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["x-frame-options"] == "DENY"
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert len(headers.get_list("content-security-policy")) == 1


def test_every_kind_of_answer_carries_the_json_policy(client):
    answers = {
        "fast path": client.get(RECS),
        "fast page": client.post("/v1/personalize", json=PAGE),
        "declared route": client.get("/v1/customers/c1/profile"),
        "declared route refusing": client.get(RECS + "?k=0"),
        "unknown path": client.get("/nowhere"),
        "body too large": client.post("/v1/events", content=b"[" + b" " * 2000 + b"]"),
        "health": client.get("/healthz"),
    }
    statuses = {name: r.status_code for name, r in answers.items()}
    assert statuses == {
        "fast path": 200, "fast page": 200, "declared route": 200,
        "declared route refusing": 422, "unknown path": 404, "body too large": 413, "health": 200,
    }  # fmt: skip
    for response in answers.values():
        assert_json_policy(response)


def test_refusals_of_the_key_check_carry_it_too(redis_client, store_config):
    create_key(redis_client, Keys(), name="shop", scopes=["admin"])
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        response = client.get(RECS, headers={"X-API-Key": "tp_00000000_" + "x" * 30})
    assert response.status_code == 401
    assert_json_policy(response)


def test_the_docs_get_their_own_policy(client):
    response = client.get("/docs")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_longest_prefix_wins():
    assert headers_for("/docs/oauth2-redirect") == headers_for("/docs")
    assert headers_for("/docsx") != headers_for("/docs")  # a prefix of the path, not a word
    assert headers_for("/v1/audit") == headers_for("/")


def test_a_query_string_past_the_bound_is_414_on_every_route(client):
    long_query = "?k=5&pad=" + "x" * QUERY_MAX
    for path in (RECS, "/v1/customers/c1/profile"):
        response = client.get(path + long_query)
        assert response.status_code == 414
        assert response.headers["content-type"] == "application/problem+json"
        assert str(QUERY_MAX) in response.json()["detail"]
    assert client.get(RECS + "?k=5&pad=" + "x" * (QUERY_MAX - 20)).status_code == 200
