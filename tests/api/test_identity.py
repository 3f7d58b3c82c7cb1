"""Identity merge on a real Redis through the API: the visitor's clicks, impression caps and
A/B variant follow them into the customer; idempotent, audited, drained by `touchpoint ingest`
and read by the batch as one person."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from contracts.tables import load_table
from experiments.assignment import assign
from jobs.cli import build_app
from store.experiment_store import ExperimentKeys
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, make_client, publish, rules_dir
from tests.experiments.factories import definition, experiment

__all__ = ["rules_dir"]
KEYS = Keys("tp")
MERGE = "/v1/identities/merge"


@pytest.fixture
def items():
    return catalogue()


@pytest.fixture
def published(redis_client, store_config, rules_dir, items):
    # two taste dimensions: Electronics on one axis, Home on the other (fold-in possible)
    factors = np.array(
        [[1.0, 0.0] if it["category"] == "Electronics" else [0.0, 1.0] for it in items],
        np.float32,
    )
    factors[[i for i, it in enumerate(items) if it["kind"] != "product"]] = 0.0
    publish(redis_client, store_config, bundle(items, item_factors=factors))
    return store_config


@pytest.fixture
def client(published):
    yield from make_client(published)


def recs(client, customer_id, **params):
    return client.get(f"/v1/customers/{customer_id}/recommendations", params=params).json()


def click(client, visitor, item_ids):
    events = [
        {"event_id": f"{visitor}-{n}", "customer_id": visitor, "item_id": i, "type": "click"}
        for n, i in enumerate(item_ids)
    ]
    response = client.post("/v1/events", json={"events": events})
    assert response.status_code == 202, response.text


def test_the_customers_next_answer_reflects_the_visitors_clicks(client, redis_client):
    before = recs(client, "c1", k=3)
    assert all(i["category"] == "Electronics" for i in before["items"])
    click(client, "visitor-1", [f"p{i}" for i in (10, 11, 12, 14, 15)] * 3)
    merged = client.post(MERGE, json={"anonymous_id": "visitor-1", "customer_id": "c1"})
    assert merged.status_code == 200, merged.text
    assert merged.json()["events_moved"] == 15
    after = recs(client, "c1", k=3)
    assert after["strategy"].startswith("realtime")
    assert all(i["category"] == "Home" for i in after["items"])
    assert redis_client.llen(KEYS.customer("c1", "recent")) == 15


def test_a_repeated_merge_answers_the_same_and_counts_nothing_twice(client, redis_client):
    click(client, "visitor-2", ["p10", "p11"])
    body = {"anonymous_id": "visitor-2", "customer_id": "c2"}
    first = client.post(MERGE, json=body)
    second = client.post(MERGE, json=body)
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json()
    assert redis_client.llen(KEYS.customer("c2", "recent")) == 2
    audit = client.get("/v1/audit").json()["entries"]
    merges = [e for e in audit if e["action"] == "identities.merge"]
    assert [(e["target"], e["outcome"]) for e in merges] == [("c2", "ok")]
    other = client.post(MERGE, json={"anonymous_id": "visitor-2", "customer_id": "c3"})
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert redis_client.llen(KEYS.customer("c3", "recent")) == 0


def test_bad_merge_bodies_are_422_problems_naming_the_field(client):
    missing = client.post(MERGE, json={"anonymous_id": "v"})
    assert missing.status_code == 422
    assert missing.json()["errors"][0]["pointer"] == "#/customer_id"
    same = client.post(MERGE, json={"anonymous_id": "c1", "customer_id": "c1"})
    assert same.status_code == 422 and same.json()["pointer"] == "#/anonymous_id"


def test_impression_caps_carry_over(published, rules_dir):
    (rules_dir / "default.yaml").write_text("caps:\n  per_item: {max: 2, days: 7}\n")
    for c in make_client(published):
        seen = [i["item_id"] for i in recs(c, "visitor-3", k=4)["items"]]
        assert [i["item_id"] for i in recs(c, "visitor-3", k=4)["items"]] == seen
        fresh = [i["item_id"] for i in recs(c, "c3", k=4)["items"]]
        assert set(fresh) & set(seen)  # c3 would be shown some of them
        merged = c.post(MERGE, json={"anonymous_id": "visitor-3", "customer_id": "c3"}).json()
        assert merged["impressions_moved"] >= 2 * len(seen)
        after = [i["item_id"] for i in recs(c, "c3", k=4)["items"]]
        assert not set(after) & set(seen)  # shown twice to the visitor: capped for c3 now


def two_ids(prefix, want_same_as=None):
    exp = experiment()
    for n in itertools.count():
        cid = f"{prefix}{n}"
        variant = assign(exp, customer_id=cid).variant
        if variant is not None and variant != want_same_as:
            return cid, variant


def test_the_visitors_variant_follows_a_customer_never_exposed(client, redis_client):
    assert client.put("/v1/experiments/home-recs", json=definition()).status_code in (200, 201)
    visitor, seen = two_ids("anon-")
    customer, own = two_ids("cust-", want_same_as=seen)
    assert own != seen
    assert recs(client, visitor, k=3)["experiments"] == [{"key": "home-recs", "variant": seen}]
    assert redis_client.exists(ExperimentKeys(KEYS).last(visitor))
    client.post(MERGE, json={"anonymous_id": visitor, "customer_id": customer})
    for _ in range(3):  # and thereafter
        body = recs(client, customer, k=3)
        assert body["experiments"] == [{"key": "home-recs", "variant": seen}]
    lookup = client.get(f"/v1/experiments/home-recs/assignment/{customer}").json()
    assert (lookup["variant"], lookup["assigned_as"]) == (seen, visitor)


def test_a_customer_already_exposed_keeps_their_own_variant(client, redis_client):
    assert client.put("/v1/experiments/home-recs", json=definition()).status_code in (200, 201)
    customer, own = two_ids("cust-")
    visitor, seen = two_ids("anon-", want_same_as=own)
    assert recs(client, customer, k=3)["experiments"][0]["variant"] == own
    assert recs(client, visitor, k=3)["experiments"][0]["variant"] == seen != own
    client.post(MERGE, json={"anonymous_id": visitor, "customer_id": customer})
    assert recs(client, customer, k=3)["experiments"][0]["variant"] == own


def test_ingest_drains_merges_and_the_batch_reads_both_ids_as_one(
    client, redis_url, tmp_path, monkeypatch
):
    client.post(MERGE, json={"anonymous_id": "visitor-9", "customer_id": "c9"})
    client.post(MERGE, json={"anonymous_id": "visitor-9", "customer_id": "c9"})  # once
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    result = CliRunner().invoke(build_app(), ["ingest", "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    rows = [
        {"event_id": f"e{n}", "customer_id": c, "item_id": "p1", "type": "click",
         "timestamp": "2026-01-02T10:00:00Z"}
        for n, c in enumerate(["visitor-9", "c9", "c8"])
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(data / "events.csv", index=False)
    events = load_table(data, "events")
    assert events["customer_id"].tolist() == ["c9", "c9", "c8"]
    assert len(list((data / "identities").glob("*.parquet"))) == 1
