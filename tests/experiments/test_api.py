"""Experiments over real HTTP (TestClient, the real app) against a real Redis.

The end-to-end test drives traffic through the serving route for a two-variant experiment,
posts conversions through the event intake, and reads results whose counts match exactly
what it sent.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.config import StoreConfig
from store.serving import ServingBundle, write_serving
from store.versions import Versions
from tests.experiments.factories import definition


@pytest.fixture
def client(redis_client: redis.Redis, store_config: StoreConfig) -> Iterator[TestClient]:
    items = [{"item_id": f"i{i}", "kind": "product", "title": f"Item {i}", "category": "A",
              "price": 10.0 + i, "channels": [], "in_stock": True} for i in range(20)]  # fmt: skip
    order = np.arange(20, dtype=np.uint32)[::-1].copy()
    bundle = ServingBundle(
        items=items, popular={"global": (order, np.linspace(1, 0, 20, dtype=np.float32))}
    )
    Versions(redis_client, store_config).publish("serving", lambda r: write_serving(r, bundle))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def now_iso(offset_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=offset_seconds)).isoformat()


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
    assert first["strategy"]["model"] == ("live" if first["variant"] == "control" else "popularity")
    other = client.get("/v1/experiments/home/assignment/c42", params={"channel": "email"}).json()
    assert (other["variant"], other["reason"]) == (None, "not_targeted")


def test_end_to_end_results_count_exactly_what_was_served_and_converted(
    client: TestClient,
) -> None:
    exp = definition(
        "home",
        targeting={"channels": ["web"]},
        conversion_types=["purchase", "click"],
        attribution_window_hours=24,
    )
    assert client.put("/v1/experiments/home", json=exp).status_code == 200
    rng = np.random.default_rng(3)
    variant: dict[str, str] = {}
    exposures: Counter[str] = Counter()
    last_rec: dict[str, str] = {}
    for i in range(120):
        customer = f"c{i}"
        for _ in range(1 + i % 3):
            r = client.get(f"/v1/customers/{customer}/recommendations",
                           params={"channel": "web", "k": 3})  # fmt: skip
            body = r.json()
            assert r.status_code == 200 and body["items"]
            (tag,) = body["experiments"]
            assert variant.setdefault(customer, tag["variant"]) == tag["variant"]  # sticky
            exposures[customer] += 1
            last_rec[customer] = body["recommendation_id"]
    # a request from a channel outside the targeting is not in the experiment
    other = client.get("/v1/customers/c0/recommendations", params={"channel": "email"}).json()
    assert other["experiments"] == []

    events: list[dict[str, object]] = []
    conversions: Counter[str] = Counter()
    revenue: defaultdict[str, float] = defaultdict(float)
    for i, customer in enumerate(variant):
        roll = rng.random()
        if roll < 0.3:  # a purchase carrying the recommendation id
            value = round(float(rng.gamma(2, 15)), 2)
            events.append({"event_id": f"p{i}", "customer_id": customer, "item_id": "i19",
                           "type": "purchase", "value": value, "timestamp": now_iso(5),
                           "recommendation_id": last_rec[customer]})  # fmt: skip
            conversions[customer] += 1
            revenue[customer] += value
        elif roll < 0.5:  # a click without one: attributed to the last exposure
            events.append({"event_id": f"k{i}", "customer_id": customer, "item_id": "i18",
                           "type": "click", "timestamp": now_iso(5)})  # fmt: skip
            conversions[customer] += 1
        else:  # a view is not a conversion
            events.append({"event_id": f"v{i}", "customer_id": customer, "item_id": "i18",
                           "type": "view", "timestamp": now_iso(5)})  # fmt: skip
    # a purchase from a customer never exposed, and one from before the exposures: not counted
    events.append({"event_id": "x1", "customer_id": "stranger", "item_id": "i1",
                   "type": "purchase", "value": 99.0, "timestamp": now_iso()})  # fmt: skip
    events.append({"event_id": "x2", "customer_id": "c1", "item_id": "i1", "type": "purchase",
                   "value": 99.0, "timestamp": now_iso(-3 * 3600)})  # fmt: skip
    assert client.post("/v1/events", json={"events": events}).status_code == 202
    retry = client.post("/v1/events", json={"events": events[:10]}).json()
    assert retry["duplicates"] == 10  # retried events are not counted twice

    results = client.get("/v1/experiments/home/results").json()
    got = {v["name"]: v for v in results["variants"]}
    for name in ("control", "v1"):
        members = [c for c, v in variant.items() if v == name]
        assert got[name]["users"] == len(members)
        assert got[name]["exposures"] == sum(exposures[c] for c in members)
        assert got[name]["conversions"] == sum(conversions[c] for c in members)
        assert got[name]["converters"] == sum(1 for c in members if conversions[c])
        assert got[name]["revenue"] == pytest.approx(sum(revenue[c] for c in members))
    assert got["v1"]["conversion_rate_lift"] is not None
    csv = client.get("/v1/experiments/home/results", params={"format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    assert [line.split(",")[0] for line in csv.text.splitlines()] == ["variant", "control", "v1"]
