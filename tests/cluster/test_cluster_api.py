"""The API served from a real Redis Cluster (three primaries, a replica each):
recommendations, personalize, profile, events and feedback intake, a version switch
(experiments, cases, ingest and segments: `test_cluster_features.py`)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from store.client import connect
from store.counters import log_key, window_key
from store.feedback import decode as decode_feedback
from store.keys import Keys
from store.recent import decode as decode_recent
from store.versions import Versions
from tests.api.personal_factories import bundle, catalogue, make_client, publish, rules_dir

__all__ = ["rules_dir"]
KEYS = Keys()


@pytest.fixture
def published(cluster_config, rules_dir):
    # the default rules: their impression caps make every answer write its customer's windows
    shutil.copy(Path(__file__).parents[2] / "rules" / "default.yaml", rules_dir / "default.yaml")
    with connect(cluster_config) as client:
        return publish(client, cluster_config, bundle(catalogue()))


@pytest.fixture
def api(cluster_config, published):
    yield from make_client(cluster_config, refresh_seconds=0.1)


def ids(body):
    return [i["item_id"] for i in body["items"]]


def test_recommendations_and_personalize_come_from_the_cluster(api, published, cluster_config):
    body = api.get("/v1/customers/c1/recommendations", params={"k": 6}).json()
    assert ids(body)[:4] == ["p1", "p2", "p4", "p5"]  # personal first, p3 out of stock
    assert "p3" not in ids(body)
    assert body["model_version"] == published and body["degraded"] is False
    page = api.post(
        "/v1/personalize",
        json={"customer_id": "c1", "channel": "web",
              "slots": [{"name": "hero", "kind": "product", "k": 3},
                        {"name": "deals", "kind": "offer", "k": 2}]},
    )  # fmt: skip
    assert page.status_code == 200
    slots = {s["name"]: ids(s) for s in page.json()["slots"]}
    assert len(slots["hero"]) == 3 and len(slots["deals"]) == 2
    assert api.get("/v1/customers/c1/profile").json()["known"] is True
    # what the answer served reached its recommendation's slot (written after the answer)
    deadline = time.monotonic() + 5
    with connect(cluster_config) as client:
        served = None
        while served is None and time.monotonic() < deadline:
            served = client.hget(KEYS.recommendation(body["recommendation_id"], "served"),
                                 "customer")  # fmt: skip
            time.sleep(0.05)
        assert served == b"c1"
        # and its impression counts reached the customer's slot (one call per slot)
        window = window_key(KEYS, "c1", 7)
        assert client.llen(log_key(window)) + client.hlen(window) >= 1
        # a purchase of a served item is attributed to the recommendation (its own slot)
        purchase = {"event_id": "buy1", "customer_id": "c1", "item_id": ids(body)[0],
                    "type": "purchase", "value": 12.5,
                    "recommendation_id": body["recommendation_id"]}  # fmt: skip
        assert api.post("/v1/events", json=purchase).status_code == 202
        conversions = client.hgetall(KEYS.recommendation(body["recommendation_id"], "conversions"))
        assert conversions, "the conversion was not attributed"


def test_events_and_feedback_are_recorded_on_the_cluster(api, cluster_config, redis_cluster):
    events = [
        {"event_id": f"e{n}", "customer_id": f"c{n}", "item_id": "p7", "type": "view",
         "timestamp": "2026-01-02T03:04:05Z"}
        for n in range(12)
    ]  # fmt: skip
    first = api.post("/v1/events", json={"events": events}).json()
    again = api.post("/v1/events", json={"events": events}).json()
    assert (first["accepted"], again["duplicates"]) == (12, 12)
    answer = {"response_id": "f1", "customer_id": "c2", "survey": "nps", "score": 3,
              "touchpoint": "delivery", "timestamp": "2026-03-01T10:00:00Z"}  # fmt: skip
    assert api.post("/v1/feedback", json=answer).status_code == 202
    with connect(cluster_config) as client:
        assert client.xlen(KEYS.stream("events")) == 12
        recent = decode_recent(client.lrange(KEYS.customer("c5", "recent"), 0, -1))
        assert [e.item_id for e in recent] == ["p7"]
        latest = decode_feedback(client.hgetall(KEYS.customer("c2", "feedback")))
        assert latest["nps"]["score"] == 3
    # the customers' keys live on more than one primary
    holders = {redis_cluster.node_for(KEYS.customer(f"c{n}", "recent")).connection_pool
               .connection_kwargs["port"] for n in range(12)}  # fmt: skip
    assert len(holders) > 1


def test_a_new_version_goes_live_for_the_api_and_rolls_back(api, cluster_config, published):
    items = catalogue()
    pos = {it["item_id"]: i for i, it in enumerate(items)}
    newer = bundle(items, customer_recs=[("c1", (np.array([pos["p9"], pos["p8"]], np.uint32),
                                                 np.array([1.0, 0.9], np.float32)))])  # fmt: skip
    with connect(cluster_config) as client:
        second = publish(client, cluster_config, newer)
    deadline = time.monotonic() + 10
    body = api.get("/v1/customers/c1/recommendations", params={"k": 2}).json()
    while body["model_version"] != second and time.monotonic() < deadline:
        time.sleep(0.1)
        body = api.get("/v1/customers/c1/recommendations", params={"k": 2}).json()
    assert ids(body) == ["p9", "p8"]
    with connect(cluster_config) as client:
        assert Versions(client, cluster_config).rollback("serving") == published
    while body["model_version"] != published and time.monotonic() < deadline:
        time.sleep(0.1)
        body = api.get("/v1/customers/c1/recommendations", params={"k": 2}).json()
    assert ids(body) == ["p1", "p2"]
