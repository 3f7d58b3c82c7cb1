"""Business rules that react to feedback and open cases, through the API on real Redis: a
detractor with an open case gets recovery items first (explained) and no promotional offers
on email; a promoter gets the referral reward; everyone else is served as before. Both the
fast path and FastAPI's declared routes answer the same."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from tests.api.personal_factories import bundle, catalogue, item, publish

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
REACTIONS = """
caps:
  per_item: {max: 100, days: 7}
reactions:
  - when: {open_case: true, nps: detractor, within_days: 30}
    boost: {tag: recovery, factor: 50}
    suppress: {tags: [promo], channels: [push, email]}
    reason: "we're sorry about your {touchpoint}"
  - when: {nps: promoter, within_days: 30}
    boost: {tag: referral, factor: 50}
    reason: "thanks for recommending us: invite a friend"
"""


def shop() -> list[dict]:
    items = catalogue()
    for it in items:
        if it["item_id"] in ("o0", "o1", "o2"):
            it["tags"] = ["promo"]
    # first in the table: last in the global popular list, and the referral reward last of
    # the rewards' list (nobody gets them by popularity)
    extra = [item("rec1", "product", category="Care", tags=["recovery"]),
             item("rec2", "offer", category="Care", tags=["recovery"], margin=1.0)]  # fmt: skip
    referral = item("ref1", "reward", category="Rewards", tags=["referral"], points_cost=50)
    return [*extra, *items, referral]


@pytest.fixture
def clients(redis_client, store_config, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "default.yaml").write_text(REACTIONS)
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    publish(redis_client, store_config, bundle(shop()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    fast, declared = create_app(settings), create_app(settings)
    declared.fast_ahead = False  # type: ignore[attr-defined]
    with TestClient(fast) as a, TestClient(declared) as b:
        yield a, b


def feel(client, customer: str, score: int, n: int = 1) -> None:
    body = {"response_id": f"{customer}-{n}", "customer_id": customer, "survey": "nps",
            "score": score, "touchpoint": "delivery", "comment": "late"}  # fmt: skip
    assert client.post("/v1/feedback", json=body).status_code == 202


def ids(body: dict) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def test_a_detractor_with_an_open_case_sees_recovery_first_with_the_reason(clients):
    fast, declared = clients
    before = fast.get("/v1/customers/c1/recommendations", params={"k": 5}).json()
    assert "rec1" not in ids(before)
    feel(fast, "c1", 2)
    for client in clients:
        body = client.get("/v1/customers/c1/recommendations", params={"k": 5}).json()
        assert ids(body)[0] == "rec1"
        assert body["items"][0]["reason"] == "we're sorry about your delivery"
        assert body["items"][1]["reason"] != "we're sorry about your delivery"
    untouched = declared.get("/v1/customers/c2/recommendations", params={"k": 5}).json()
    assert "rec1" not in ids(untouched)  # no feedback: served as before


def test_promotions_are_held_back_on_email_but_not_on_the_web(clients):
    fast, _ = clients
    email = {"k": 5, "channel": "email"}
    assert {"o0", "o1", "o2"} & set(ids(fast.get("/v1/customers/c1/offers", params=email).json()))
    feel(fast, "c1", 1)
    offers = ids(fast.get("/v1/customers/c1/offers", params=email).json())
    assert offers[0] == "rec2" and not {"o0", "o1", "o2"} & set(offers)
    web = ids(fast.get("/v1/customers/c1/offers", params={"k": 5, "channel": "web"}).json())
    assert {"o0", "o1", "o2"} & set(web)


def test_the_reaction_ends_when_the_case_is_resolved(clients):
    fast, _ = clients
    feel(fast, "c1", 2)
    (case,) = fast.get("/v1/cases").json()["cases"]
    url = f"/v1/cases/{case['case_id']}"
    fast.patch(url, json={"status": "contacted"}, headers={"If-Match": '"1"'})
    fast.patch(url, json={"status": "resolved"}, headers={"If-Match": '"2"'})
    body = fast.get("/v1/customers/c1/recommendations", params={"k": 5}).json()
    assert "rec1" not in ids(body)


def test_a_promoter_is_offered_the_referral_reward(clients):
    fast, _ = clients
    before = ids(fast.get("/v1/customers/c1/rewards", params={"k": 3}).json())
    assert before[0] != "ref1"
    feel(fast, "c1", 10)
    assert fast.get("/v1/cases").json()["cases"] == []
    for client in clients:
        body = client.get("/v1/customers/c1/rewards", params={"k": 3}).json()
        assert ids(body)[0] == "ref1"
        assert body["items"][0]["reason"] == "thanks for recommending us: invite a friend"
