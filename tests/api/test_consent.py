"""Consent that holds at once: two API instances on one real Redis, the consent stream
drained by the real `touchpoint ingest`, and the batch leaving out who withdrew."""

from __future__ import annotations

import time

import pandas as pd
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.services.slots import NOT_PERSONAL
from api.settings import ApiSettings
from contracts.tables import load_table
from jobs.cli import build_app
from recsys.matrix import build_interactions
from tests.api.personal_factories import bundle, catalogue, publish, rules_dir

__all__ = ["rules_dir"]
RECS = "/v1/customers/c1/recommendations"


def app_client(store_config) -> TestClient:
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, refresh_seconds=0.1
    )
    return TestClient(create_app(settings))


@pytest.fixture
def two(redis_client, store_config, rules_dir):
    """Two API instances (two replicas) over one Redis and one published catalogue."""
    publish(redis_client, store_config, bundle(catalogue()))
    with app_client(store_config) as a, app_client(store_config) as b:
        yield a, b


def ids(body):
    return [i["item_id"] for i in body["items"]]


def test_withdrawn_personalisation_holds_on_the_next_request_of_another_replica(two):
    a, b = two
    before = a.get(RECS, params={"k": 5}).json()
    assert before["strategy"].startswith("personal")  # c1 has published recs p1, p2, p4…
    assert ids(before)[:3] == ["p1", "p2", "p4"]
    put = b.put("/v1/customers/c1/consent", json={"personalisation": False})
    assert put.status_code == 200, put.text
    after = a.get(RECS, params={"k": 5}).json()  # the other replica, the very next request
    assert after.get("personalised") is False
    assert "personal" not in after["strategy"].split("+")
    assert all(item["reason"] == NOT_PERSONAL for item in after["items"])
    # what an unknown customer gets: the popular list, not c1's recs nor their segment's
    stranger = a.get("/v1/customers/stranger/recommendations", params={"k": 5}).json()
    assert ids(after) == ids(stranger)
    b.put("/v1/customers/c1/consent", json={"personalisation": True})
    again = a.get(RECS, params={"k": 5}).json()
    assert ids(again)[:3] == ["p1", "p2", "p4"] and "personalised" not in again


def test_live_channel_consent_wins_over_the_batch_default(two):
    a, b = two
    email = {"channel": "email", "k": 3}
    assert a.get(RECS, params=email).json()["items"]  # c1: batch consent to email
    b.put("/v1/customers/c1/consent", json={"email": False})
    refused = a.get(RECS, params=email).json()
    assert refused["items"] == [] and refused["suppressed"] == "no marketing consent for email"
    assert a.get(RECS, params={"channel": "web", "k": 3}).json()["items"]  # web needs none
    c2 = "/v1/customers/c2/recommendations"
    assert a.get(c2, params=email).json()["items"] == []  # c2: batch says no
    b.put("/v1/customers/c2/consent", json={"email": True})
    assert a.get(c2, params=email).json()["items"]


def test_consent_outlives_a_publish(two, redis_client, store_config):
    a, b = two
    b.put("/v1/customers/c1/consent", json={"personalisation": False})
    first = a.get(RECS, params={"k": 5}).json()["model_version"]
    newer = publish(redis_client, store_config, bundle(catalogue()))
    body = a.get(RECS, params={"k": 5}).json()
    for _ in range(100):  # the replica polls the live version every 0.1 s
        if body["model_version"] == newer:
            break
        time.sleep(0.05)
        body = a.get(RECS, params={"k": 5}).json()
    assert body["model_version"] == newer != first
    assert body.get("personalised") is False


def test_get_consent_shows_value_source_and_history_newest_first(two):
    a, b = two
    b.put("/v1/customers/c1/consent", json={"personalisation": False, "sms": True})
    b.put("/v1/customers/c1/consent", json={"personalisation": True})
    view = a.get("/v1/customers/c1/consent").json()
    assert view["consent"] == {"email": True, "push": False, "sms": True,
                               "personalisation": True, "analytics": True}  # fmt: skip
    assert view["source"] == {"email": "batch", "push": "batch", "sms": "live",
                              "personalisation": "live", "analytics": "default"}  # fmt: skip
    assert [h["personalisation"] for h in view["history"]] == ["true", "false"]
    assert view["history"][1]["sms"] == "true" and view["history"][0]["sms"] == ""
    assert view["changed_at"] == view["history"][0]["changed_at"]
    profile = a.get("/v1/customers/c1/profile").json()
    assert profile["consent"]["sms"] is True  # the profile shows the live value too


def test_consent_changes_are_audited(two):
    a, b = two
    b.put("/v1/customers/c1/consent", json={"analytics": False})
    entries = a.get("/v1/audit").json()["entries"]
    mine = [e for e in entries if e["action"] == "consent.put"]
    assert [(e["target"], e["outcome"]) for e in mine] == [("c1", "ok")]
    assert '"analytics": false' in mine[0]["detail"].replace(":false", ": false")


@pytest.mark.parametrize(
    ("body", "pointer"),
    [
        ({"personalisation": "yes"}, "#/personalisation"),
        ({"email": 1}, "#/email"),
        ({"colour": True}, "#/colour"),
        ({}, "#/"),
    ],
)
def test_bad_consent_is_a_422_problem_naming_the_field(two, body, pointer):
    a, _ = two
    response = a.put("/v1/customers/c1/consent", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["pointer"] == pointer


def test_ingest_drains_consent_and_the_batch_drops_who_withdrew(
    two, redis_url, store_config, tmp_path, monkeypatch
):
    a, _ = two
    a.put("/v1/customers/c1/consent", json={"personalisation": False})
    a.put("/v1/customers/c2/consent", json={"analytics": False})
    a.put("/v1/customers/c3/consent", json={"personalisation": False})
    a.put("/v1/customers/c3/consent", json={"personalisation": True})  # changed their mind
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    result = CliRunner().invoke(build_app(), ["ingest", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    parts = list((data / "consent").glob("*.parquet"))
    assert sum(pq.read_table(p).num_rows for p in parts) == 4
    rows = [
        {"event_id": f"e{n}", "customer_id": c, "item_id": f"p{n % 5}", "type": "purchase",
         "timestamp": f"2026-01-0{1 + n % 9}T10:00:00Z"}
        for n, c in enumerate(["c1", "c2", "c3", "c4"] * 3)
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(data / "events.csv", index=False)
    training = load_table(data, "events")
    assert set(training["customer_id"]) == {"c2", "c3", "c4"}  # c1 withdrew personalisation
    analytics = load_table(data, "events", purpose="analytics")
    assert set(analytics["customer_id"]) == {"c1", "c3", "c4"}  # c2 withdrew analytics
    matrix = build_interactions(training)
    assert "c1" not in matrix.customers and "c2" in matrix.customers
