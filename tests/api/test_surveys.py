"""`GET /v1/customers/{id}/survey` through the API against a real Redis: the published
profile (consent, orders), live purchases and answers, open cases, and the quiet period
shared by two replicas."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from contracts.yaml_lines import ConfigError
from store.case_events import open_cases_key
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

KEYS = Keys()
PROFILES = [
    (
        "buyer",
        {
            "customer_id": "buyer",
            "frequency": 3,
            "consent": {"email": True, "push": False, "sms": False},
        },
    ),
    ("once", {"customer_id": "once", "frequency": 1, "consent": {"email": True}}),
    ("quiet", {"customer_id": "quiet", "frequency": 4, "consent": {"email": True}}),
]


@pytest.fixture
def settings(redis_client, store_config, tmp_path, monkeypatch):
    publish(redis_client, store_config, bundle(catalogue(), customer_profiles=PROFILES))
    rules = tmp_path / "rules"
    rules.mkdir()
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))  # the setting's alias
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    assert settings.business_rules_dir == rules  # never the repository's own rules
    return settings


@pytest.fixture
def api(settings):
    with TestClient(create_app(settings)) as client:
        yield client


def ask(client: TestClient, customer: str, channel: str = "web", touchpoint: str = "") -> dict:
    answer = client.get(
        f"/v1/customers/{customer}/survey", params={"channel": channel, "touchpoint": touchpoint}
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_nps_after_the_second_purchase_then_quiet_on_every_channel(api) -> None:
    first = ask(api, "buyer", "web", "checkout")
    assert (first["ask"], first["survey"]) == (True, "nps")
    again = ask(api, "buyer", "email", "support")
    assert not again["ask"] and "quiet period" in again["reason"]
    until = datetime.fromisoformat(again["next_eligible_at"])
    assert until > datetime.now(UTC) + timedelta(days=29)


def test_the_quiet_period_holds_across_replicas(settings) -> None:
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        assert ask(a, "buyer", "web", "support")["survey"] == "ces"
        assert not ask(b, "buyer", "app", "delivery")["ask"]


def test_one_purchase_is_not_enough_until_a_second_arrives_live(api) -> None:
    assert not ask(api, "once", "web", "checkout")["ask"]
    for n in (1, 2):
        posted = api.post(
            "/v1/events",
            json={"event_id": f"e{n}", "customer_id": "once", "item_id": "p1", "type": "purchase"},
        )
        assert posted.status_code == 202
    assert ask(api, "once", "web", "checkout")["survey"] == "nps"


def test_an_open_case_means_no_survey(api, redis_client) -> None:
    redis_client.hset(open_cases_key(KEYS, "buyer"), "delivery", "K42")
    answer = ask(api, "buyer", "web", "support")
    assert not answer["ask"] and "K42" in answer["reason"]
    redis_client.hdel(open_cases_key(KEYS, "buyer"), "delivery")  # the case is closed
    assert ask(api, "buyer", "web", "support")["survey"] == "ces"


def test_consent_from_the_profile(api) -> None:
    assert not ask(api, "buyer", "push", "support")["ask"]  # push consent false
    assert not ask(api, "stranger", "email", "support")["ask"]  # no profile, no consent
    assert ask(api, "stranger", "web", "support")["survey"] == "ces"
    assert ask(api, "buyer", "email", "support")["survey"] == "ces"


def test_live_consent_wins_over_the_profile(api) -> None:
    assert api.put("/v1/customers/buyer/consent", json={"email": False}).status_code == 200
    assert ask(api, "buyer", "email", "support")["reason"] == "no consent to contact on email"
    api.put("/v1/customers/buyer/consent", json={"push": True})
    assert ask(api, "buyer", "push", "support")["survey"] == "ces"


def test_a_recent_answer_counts_as_surveyed(api) -> None:
    now = datetime.now(UTC)
    posted = api.post(
        "/v1/feedback",
        json={
            "response_id": "r1",
            "customer_id": "quiet",
            "survey": "csat",
            "score": 4,
            "timestamp": now.isoformat(),
        },
    )
    assert posted.status_code == 202
    assert not ask(api, "quiet", "web", "delivery")["ask"]


def test_an_answer_past_the_quiet_period_but_in_cooldown_gives_way(api) -> None:
    old = (datetime.now(UTC) - timedelta(days=40)).isoformat()
    posted = api.post(
        "/v1/feedback",
        json={
            "response_id": "r2",
            "customer_id": "quiet",
            "survey": "ces",
            "score": 5,
            "timestamp": old,
        },
    )
    assert posted.status_code == 202
    assert ask(api, "quiet", "web", "support")["survey"] == "nps"  # CES cools down 90 days


@pytest.mark.parametrize("query", ["", "?channel=fax", "?channel=web&touchpoint=" + "x" * 200])
def test_bad_queries_are_problems(api, query: str) -> None:
    answer = api.get(f"/v1/customers/buyer/survey{query}")
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_policy_file_is_read_and_a_bad_one_fails_start_up(settings) -> None:
    path = settings.business_rules_dir / "surveys.yaml"
    path.write_text("quiet_days: 0\nsurveys:\n  - {survey: csat}\n")
    with TestClient(create_app(settings)) as api:
        assert ask(api, "buyer", "web", "checkout")["survey"] == "csat"
        assert ask(api, "buyer", "web", "checkout")["ask"] is False  # csat cooldown 90 days
    path.write_text("quiet_days: 0\nsurveys:\n  - {survey: csat, cooldown: 3}\n")
    with pytest.raises(ConfigError) as info:
        create_app(settings)
    assert info.value.line == 3 and "cooldown" in info.value.key
