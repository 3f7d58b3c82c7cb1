"""Products, personalize, similar items and profile against a real Redis and real rules files."""

from __future__ import annotations

import time

import numpy as np
import pytest

from store.keys import Keys
from store.recent import RecentEvent, append_events
from tests.api.personal_factories import bundle, catalogue, make_client, publish, rules_dir

__all__ = ["rules_dir"]
KEYS = Keys("tp")


@pytest.fixture
def items():
    return catalogue()


@pytest.fixture
def client(redis_client, store_config, rules_dir, items):
    publish(redis_client, store_config, bundle(items))
    yield from make_client(store_config)


def ids(body):
    return [i["item_id"] for i in body["items"]]


def events(redis_client, customer_id, *pairs):
    now = int(time.time())
    pipe = redis_client.pipeline(transaction=False)
    recent = [RecentEvent(item_id, kind, now - n, "web") for n, (item_id, kind) in enumerate(pairs)]
    append_events(pipe, KEYS, customer_id, recent)
    pipe.execute()


def test_products_come_personal_first_with_reasons_and_response_metadata(client):
    body = client.get("/v1/customers/c1/recommendations", params={"k": 6}).json()
    # p3 out of stock; p5 only for Champions, which c1 is
    assert ids(body)[:5] == ["p1", "p2", "p4", "p5", "p6"]
    assert body["recommendation_id"].startswith("r_") and body["model_version"]
    assert body["strategy"].startswith("personal") and body["degraded"] is False
    first = body["items"][0]
    assert {"item_id", "kind", "score", "title", "category", "price", "reason"} <= set(first)
    # p0 is the customer's strongest history item, in the same category as p1
    assert first["reason"] == "because you liked Title p0"


def test_target_segments_hide_items_from_other_segments(client):
    body = client.get("/v1/customers/c2/recommendations", params={"k": 20}).json()
    assert "p5" not in ids(body)


def test_unknown_customer_gets_a_cold_start_answer_not_an_error(client):
    response = client.get("/v1/customers/stranger/recommendations", params={"k": 4})
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 4 and body["known_customer"] is False
    assert body["strategy"] == "popular"


def test_a_customer_without_history_gets_their_segment_list_first(client):
    body = client.get("/v1/customers/c3/recommendations", params={"k": 4}).json()
    assert ids(body)[:2] == ["p15", "p16"]
    assert body["items"][0]["reason"] == "popular with New"
    assert body["strategy"] == "segment+popular" and body["known_customer"] is True


def test_a_live_purchase_disappears_from_the_next_answer(client, redis_client):
    assert "p1" in ids(client.get("/v1/customers/c1/recommendations").json())
    events(redis_client, "c1", ("p1", "purchase"))
    after = client.get("/v1/customers/c1/recommendations").json()
    assert "p1" not in ids(after)
    assert any(i["reason"] == "because you bought Title p1" for i in after["items"])


def test_a_dismissed_item_is_excluded(client, redis_client):
    events(redis_client, "c1", ("p2", "dismiss"))
    assert "p2" not in ids(client.get("/v1/customers/c1/recommendations").json())


def test_fresh_clicks_fold_into_the_customer_vector_and_re_rank(
    redis_client, store_config, rules_dir, items
):
    # two taste dimensions: Electronics on one axis, Home on the other
    factors = np.array(
        [[1.0, 0.0] if it["category"] == "Electronics" else [0.0, 1.0] for it in items],
        np.float32,
    )
    factors[[i for i, it in enumerate(items) if it["kind"] != "product"]] = 0.0
    publish(redis_client, store_config, bundle(items, item_factors=factors))
    for client in make_client(store_config):
        before = client.get("/v1/customers/c1/recommendations", params={"k": 3}).json()
        assert all(i["category"] == "Electronics" for i in before["items"])
        events(redis_client, "c1", *[(f"p{i}", "click") for i in (10, 11, 12, 14, 15)] * 3)
        after = client.get("/v1/customers/c1/recommendations", params={"k": 3}).json()
        assert after["strategy"].startswith("realtime")
        assert all(i["category"] == "Home" for i in after["items"])


def test_category_filter_exclude_and_context_item(client):
    body = client.get(
        "/v1/customers/c1/recommendations",
        params={"k": 5, "category": "Home", "exclude": "p19,p18"},
    ).json()
    assert ids(body) and all(i["category"] == "Home" for i in body["items"])
    assert not {"p19", "p18"} & set(ids(body))


def test_personalize_fills_every_slot_without_repeats_under_one_id(client):
    response = client.post(
        "/v1/personalize",
        json={
            "customer_id": "c1",
            "channel": "web",
            "slots": [
                {"name": "hero", "kind": "product", "k": 3},
                {"name": "more", "kind": "product", "k": 4, "filters": {"category": "Home"}},
                {"name": "deals", "kind": "offer", "k": 2},
            ],
        },
    )
    assert response.status_code == 200
    body = response.json()
    slots = {s["name"]: s for s in body["slots"]}
    assert [len(slots[n]["items"]) for n in ("hero", "more", "deals")] == [3, 4, 2]
    everything = [i["item_id"] for s in body["slots"] for i in s["items"]]
    assert len(everything) == len(set(everything))
    assert body["recommendation_id"].startswith("r_") and body["strategy"]


def test_personalize_rejects_duplicate_slot_names_pointing_at_the_body(client):
    response = client.post(
        "/v1/personalize",
        json={"customer_id": "c1", "slots": [{"name": "a"}, {"name": "a"}]},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"


def test_similar_items_and_unknown_item(client):
    response = client.get("/v1/items/nope/similar")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = client.get("/v1/items/p12/similar", params={"k": 3}).json()
    assert len(body["items"]) == 3 and "p12" not in ids(body)
    # no published neighbours here: the same category fills the list
    assert all(i["category"] == "Home" for i in body["items"])


def test_profile_merges_published_profile_with_live_activity(client, redis_client):
    events(redis_client, "c1", ("p1", "purchase"), ("p2", "click"), ("p4", "click"))
    body = client.get("/v1/customers/c1/profile").json()
    assert (body["loyalty_tier"], body["points_balance"], body["latest_nps"]) == ("silver", 600, 9)
    assert body["segments"]["rfm"] == "Champions"
    assert body["recent_activity"]["by_type"] == {"purchase": 1, "click": 2}
    assert body["recent_activity"]["latest"][0]["item_id"] == "p1"
    assert client.get("/v1/customers/ghost/profile").json()["known"] is False


def test_metrics_count_requests_per_route_template(client):
    client.get("/v1/customers/c1/recommendations")
    client.get("/v1/customers/zz/recommendations")
    text = client.get("/metrics").text
    line = [
        row for row in text.splitlines()
        if row.startswith("touchpoint_requests_total")
        and 'route="/v1/customers/{customer_id}/recommendations"' in row
    ]  # fmt: skip
    assert line and float(line[0].rsplit(" ", 1)[1]) == 2.0
    assert 'touchpoint_fallbacks_total{reason="cold_start"}' in text
    assert "touchpoint_request_seconds_bucket" in text


def test_published_neighbours_drive_similar_items_and_context_item(
    redis_client, store_config, rules_dir, items
):
    n = len(items)
    sim_idx = np.full((n, 3), -1, np.int64)
    sim_idx[12] = [17, 3, 16]  # p3 is out of stock: skipped
    sim_score = np.ones((n, 3), np.float32)
    publish(redis_client, store_config, bundle(items, similar=(sim_idx, sim_score)))
    for client in make_client(store_config):
        body = client.get("/v1/items/p12/similar", params={"k": 3}).json()
        assert ids(body)[:2] == ["p17", "p16"] and body["strategy"] == "similar"
        assert body["items"][0]["reason"] == "similar to Title p12"
        recs = client.get(
            "/v1/customers/c1/recommendations", params={"k": 4, "context_item": "p12"}
        ).json()
        assert ids(recs)[:2] == ["p17", "p16"]
        assert recs["items"][0]["reason"] == "similar to what you are looking at"


def test_placement_rules_pin_and_diversify_only_their_slot(
    redis_client, store_config, rules_dir, items
):
    (rules_dir / "web.home.yaml").write_text(
        "pins: [{item_id: p18, position: 1}]\ndiversity: {max_per_category: 1}\n"
    )
    publish(redis_client, store_config, bundle(items))
    for client in make_client(store_config):

        def slot(channel, client=client):
            body = {"customer_id": "c1", "channel": channel, "slots": [{"name": "home", "k": 3}]}
            return client.post("/v1/personalize", json=body).json()["slots"][0]

        home = slot("web")
        # personal p1 (Electronics), the best Home item (p12, Champions list); p18 pinned first
        assert [i["item_id"] for i in home["items"]] == ["p18", "p1", "p12"]
        assert home["items"][0]["reason"] == "featured"
        assert [i["item_id"] for i in slot("app")["items"]] == ["p1", "p2", "p4"]


def test_recommendation_ids_are_unique_and_well_formed():
    import re

    from api.services.recommend import new_recommendation_id

    ids = [new_recommendation_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"r_[0-9a-f]{16}", i) for i in ids)
