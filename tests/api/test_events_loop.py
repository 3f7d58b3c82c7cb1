"""The feedback loop through the real app: an event posted now shapes the next answer."""

from __future__ import annotations

import pytest

from tests.api.personal_factories import bundle, catalogue, make_client, publish


@pytest.fixture
def client(redis_client, store_config):
    publish(redis_client, store_config, bundle(catalogue()))
    yield from make_client(store_config)


def rec_ids(client, customer_id: str = "c1") -> list[str]:
    body = client.get(f"/v1/customers/{customer_id}/recommendations", params={"k": 5}).json()
    return [item["item_id"] for item in body["items"]]


def test_purchased_item_disappears_from_the_next_answer(client):
    before = rec_ids(client)
    bought = before[0]
    event = {"event_id": "x1", "customer_id": "c1", "item_id": bought, "type": "purchase"}
    assert client.post("/v1/events", json=event).status_code == 202
    after = rec_ids(client)
    assert bought not in after and len(after) == 5


@pytest.mark.parametrize(("kind", "extra"), [("rate", {"value": 4.5}), ("redeem", {})])
def test_a_rated_or_redeemed_item_disappears_from_the_next_answer(client, kind, extra):
    before = rec_ids(client)
    had = before[1]
    event = {"event_id": f"r-{kind}", "customer_id": "c1", "item_id": had, "type": kind, **extra}
    assert client.post("/v1/events", json=event).status_code == 202
    after = rec_ids(client)
    assert had not in after and len(after) == 5


def test_a_viewed_product_may_still_be_recommended(client):
    before = rec_ids(client)
    event = {"event_id": "v1", "customer_id": "c1", "item_id": before[0], "type": "view"}
    assert client.post("/v1/events", json=event).status_code == 202
    assert before[0] in rec_ids(client)


def test_a_rating_without_a_value_or_off_the_scale_points_at_the_value(client):
    base = {"event_id": "bad", "customer_id": "c1", "item_id": "p1", "type": "rate"}
    for body, reason in [(base, "needs a value"), ({**base, "value": 11}, "outside 0-10")]:
        response = client.post("/v1/events", json={"events": [body]})
        assert response.status_code == 422
        (error,) = response.json()["errors"]
        assert error["pointer"] == "#/events/0/value" and reason in error["detail"]


def test_posted_events_show_in_the_profile(client):
    events = [
        {
            "event_id": f"x{n}",
            "customer_id": "c1",
            "item_id": f"p{n}",
            "type": "view",
            "channel": "app",
        }
        for n in range(3)
    ]
    client.post("/v1/events", json={"events": events})
    activity = client.get("/v1/customers/c1/profile").json()["recent_activity"]
    assert activity["events"] == 3 and activity["by_channel"] == {"app": 3}
