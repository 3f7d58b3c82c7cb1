"""Serving wired to the rest: attribution of what was served, redemption budgets from events,
the published `consumed` items left out of every answer path, live feedback in `/profile`."""

from __future__ import annotations

import numpy as np
import pytest

from tests.api.personal_factories import bundle, catalogue, make_client, publish, ranked
from tests.attribution import read_attribution

ITEMS = catalogue()
POS = {it["item_id"]: i for i, it in enumerate(ITEMS)}


@pytest.fixture
def client(redis_client, store_config):
    bought = [
        ("c1", ranked([POS["p1"], POS["p2"]], [1.0, 2.0])),
        # c3 has no personal recs: the popular product list (p19, p18, … reversed) fills in
        ("c3", ranked([POS["p19"], POS["p18"], POS["p15"]], [1.0, 1.0, 1.0])),
    ]
    factors = np.random.default_rng(3).normal(size=(len(ITEMS), 4)).astype(np.float32)
    b = bundle(ITEMS, customer_consumed=bought, item_factors=factors)
    publish(redis_client, store_config, b)
    yield from make_client(store_config)


def ids(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def event(n: int, **fields: object) -> dict:
    return {"event_id": f"e{n}", "customer_id": "c1", "type": "view", **fields}


def test_a_purchase_carrying_the_recommendation_id_is_attributed(client, redis_client):
    body = client.get("/v1/customers/c1/recommendations", params={"k": 4}).json()
    served = ids(body)
    rec_id = body["recommendation_id"]
    purchase = event(1, item_id=served[1], type="purchase", value=12.5, recommendation_id=rec_id)
    assert client.post("/v1/events", json=purchase).status_code == 202
    report = read_attribution(redis_client, rec_id)
    assert report["customer_id"] == "c1" and report["items"] == served
    assert report["conversions"]["purchase:served"] == 1
    assert report["conversions"][f"item:{served[1]}:purchase"] == 1
    assert report["conversions"]["value:served"] == 12.5


def test_personalize_records_every_slot_under_its_one_id(client, redis_client):
    slots = [{"name": "a", "kind": "product", "k": 2}, {"name": "b", "kind": "offer", "k": 2}]
    body = client.post("/v1/personalize", json={"customer_id": "c2", "slots": slots}).json()
    served = [item["item_id"] for slot in body["slots"] for item in slot["items"]]
    assert len(served) == 4
    assert read_attribution(redis_client, body["recommendation_id"])["items"] == served


def offers(client: object) -> list[str]:
    return ids(client.get("/v1/customers/c2/offers", params={"k": 5}).json())  # type: ignore[attr-defined]


def test_an_offer_stops_after_its_budget_of_redeem_events(client):
    assert "o4" in offers(client)  # o4 has a budget of 1
    redeem = event(1, customer_id="c9", item_id="o4", type="redeem")
    client.post("/v1/events", json=redeem)
    client.post("/v1/events", json=redeem)  # a retry is a duplicate: counted once
    assert "o4" not in offers(client)
    assert len(offers(client)) == 4


def test_a_view_counts_nothing_against_budgets(client):
    client.post("/v1/events", json=event(1, customer_id="c9", item_id="o4", type="view"))
    assert "o4" in offers(client)


def test_published_purchases_never_come_back(client):
    recs = ids(client.get("/v1/customers/c1/recommendations", params={"k": 10}).json())
    assert len(recs) == 10 and not {"p1", "p2"} & set(recs)


def test_published_purchases_stay_out_of_the_fold_in_path(client):
    client.post("/v1/events", json=event(1, item_id="p9", type="click"))
    body = client.get("/v1/customers/c1/recommendations", params={"k": 10}).json()
    assert body["strategy"].startswith("realtime")  # the click was folded in
    assert not {"p1", "p2"} & set(ids(body))


def test_published_purchases_stay_out_of_popular_fill_ins(client):
    body = client.get("/v1/customers/c3/recommendations", params={"k": 5}).json()
    assert len(body["items"]) == 5 and not {"p19", "p18", "p15"} & set(ids(body))
    # the same popular list for a customer who bought nothing starts with them
    other = ids(client.get("/v1/customers/nobody/recommendations", params={"k": 5}).json())
    assert other[:2] == ["p19", "p18"]


def test_profile_shows_feedback_posted_since_the_batch(client):
    before = client.get("/v1/customers/c1/profile").json()
    assert before["latest_nps"] == 9  # published by the batch
    answer = {"response_id": "f1", "customer_id": "c1", "survey": "nps", "score": 3,
              "timestamp": "2026-03-01T10:00:00Z"}  # fmt: skip
    assert client.post("/v1/feedback", json=answer).status_code == 202
    after = client.get("/v1/customers/c1/profile").json()
    assert after["latest_nps"] == 3 and after["latest_feedback"]["csat"] == 4
    assert after["live_feedback"]["nps"]["response_id"] == "f1"
