"""The recommendation route against a real Redis holding a hand-built serving version."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.serving import ServingBundle, write_serving
from store.versions import Versions


def catalogue(n: int) -> list[dict]:
    return [
        {
            "item_id": f"i{i}",
            "kind": "product" if i % 5 else "offer",
            "title": f"Item {i}",
            "category": "A" if i < n // 2 else "B",
            "price": 10.0 + i,
            "channels": ["email"] if i == 7 else [],
            "in_stock": i != 3,
        }
        for i in range(n)
    ]


@pytest.fixture
def published(redis_client, store_config):
    items = catalogue(20)
    order = np.arange(20, dtype=np.uint32)[::-1].copy()
    bundle = ServingBundle(
        items=items,
        popular={"global": (order, np.linspace(1, 0, 20, dtype=np.float32))},
        customer_recs=[("c1", (np.array([1, 2, 3, 4, 6, 7], np.uint32), np.ones(6, np.float32)))],
    )
    return Versions(redis_client, store_config).publish(
        "serving", lambda r: write_serving(r, bundle)
    )


@pytest.fixture
def client(store_config, published):
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def test_known_customer_gets_personal_items_first_filtered_by_rules(client, published):
    body = client.get("/v1/customers/c1/recommendations", params={"k": 5, "channel": "web"}).json()
    ids = [item["item_id"] for item in body["items"]]
    # i3 is out of stock, i7 is email-only, i5/i0 are offers; personal first, popular fills.
    assert ids[:3] == ["i1", "i2", "i4"]
    assert ids[3] == "i6"
    assert len(ids) == 5 and "i3" not in ids and "i7" not in ids
    assert body["model_version"] == published
    assert body["recommendation_id"].startswith("r_")


def test_unknown_customer_gets_popular_items_not_an_error(client):
    response = client.get("/v1/customers/nobody/recommendations", params={"k": 3})
    assert response.status_code == 200
    body = response.json()
    assert [i["item_id"] for i in body["items"]] == ["i19", "i18", "i17"]
    assert body["strategy"] == "popular"


def test_bad_k_is_a_problem_json_pointing_at_the_field(client):
    response = client.get("/v1/customers/c1/recommendations", params={"k": 0})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["errors"][0]["pointer"] == "query/k"
