"""Experiments, follow-up cases, ingest, segments and the key migration on the session's
real Redis Cluster (three primaries, a replica each), through the real app and jobs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from jobs.ingest import DRAINED, ingest
from jobs.segmentation import publish_build
from store.case_events import CASE_EVENTS, decode_case_event, open_cases_key
from store.client import connect
from store.events import CASES, EVENTS, FEEDBACK, StreamReader
from store.experiment_store import ROW_FIELDS, ExperimentStore
from store.key_migration import migrate
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish
from tests.api.test_segments_api import _build
from tests.experiments.factories import definition
from tests.store.test_key_migration import seed_old_layout

KEYS = Keys()
REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def api(cluster_config, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    with connect(cluster_config) as client:
        publish(client, cluster_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=cluster_config.data_dir, redis_url=cluster_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def port(node) -> int:  # type: ignore[no-untyped-def]
    return int(node.connection_pool.connection_kwargs["port"])


def test_an_experiment_is_defined_served_and_counted_on_a_cluster(
    api, cluster_config, redis_cluster
):  # fmt: skip
    assert api.put("/v1/experiments/home", json=definition("home")).status_code == 200
    customers = [f"c{n}" for n in range(20)]
    for customer in customers:
        assert api.get(f"/v1/customers/{customer}/recommendations").status_code == 200
    with connect(cluster_config) as client:
        rows = ExperimentStore(client).customer_rows("home")
    assert sorted(rows.customer_ids) == sorted(customers)  # every exposure counted once
    assert set(rows.variants) <= {"control", "v1"} and sum(rows.exposures) == 20
    tables = {port(redis_cluster.node_for(KEYS.experiment("home", t))) for t in ROW_FIELDS}
    assert len(tables) == 1  # one experiment's tables share its slot
    results = api.get("/v1/experiments/home/results")
    assert results.status_code == 200, results.text
    with connect(cluster_config) as client:
        store = ExperimentStore(client)
        store.delete("home")  # the definition (one MULTI in `{exp}`), then its tables
        assert store.definitions() == {}
        assert not client.exists(*(KEYS.experiment("home", t) for t in ROW_FIELDS))


def test_cases_open_join_resolve_and_drain_on_a_cluster(api, cluster_config, tmp_path):
    answer = {"response_id": "r1", "customer_id": "c9", "survey": "nps", "score": 3,
              "comment": "never answered", "touchpoint": "support", "channel": "web"}  # fmt: skip
    assert api.post("/v1/feedback", json=answer).status_code == 202
    again = {**answer, "response_id": "r2", "score": 1}
    assert api.post("/v1/feedback", json=again).status_code == 202
    (case,) = api.get("/v1/cases").json()["cases"]
    assert case["answers"] == 2 and case["version"] == 2
    url = f"/v1/cases/{case['case_id']}"
    with connect(cluster_config) as client:
        mine = {b"support": case["case_id"].encode()}
        assert client.hgetall(open_cases_key(KEYS, "c9")) == mine  # the customer's copy
        assert client.hgetall(KEYS.open_cases("c9")) == mine  # the scripts' own, `{cases}`
        called = api.patch(url, json={"status": "contacted"}, headers={"If-Match": '"2"'})
        assert called.status_code == 200, called.text
        assert client.hgetall(open_cases_key(KEYS, "c9")) == mine  # still open
        done = api.patch(url, json={"status": "resolved"}, headers={"If-Match": '"3"'})
        assert done.status_code == 200, done.text
        assert client.hgetall(open_cases_key(KEYS, "c9")) == {}
        assert client.hgetall(KEYS.open_cases("c9")) == {}
        kinds = [decode_case_event(f)["kind"] for _, f in client.xrange(KEYS.stream(CASE_EVENTS))]
        assert kinds == ["case.opened", "case.joined", "case.updated", "case.resolved"]
        report = api.get("/v1/cases/report")
        assert report.status_code == 200, report.text
        # ingest drains the intake and case streams from the cluster
        results = {r.stream: r for r in ingest(client, KEYS, tmp_path / "drained",
                                                streams=DRAINED)}  # fmt: skip
        assert results[FEEDBACK].written == 2 and results[CASES].written == 4
        assert results[EVENTS].written == 0
        assert StreamReader(client, KEYS, CASES).backlog() == 0
        again = {r.stream: r for r in ingest(client, KEYS, tmp_path / "drained")}
        assert again[CASES].written == 0  # exactly once


def test_segments_publish_and_read_on_a_cluster(cluster_config):
    old, new = _build("2024-03-15"), _build("2024-06-30")
    first, _, _ = publish_build(old, cluster_config)
    second, previous, _ = publish_build(new, cluster_config)
    assert previous == first
    settings = ApiSettings(data_dir=cluster_config.data_dir, redis_url=cluster_config.redis_url)
    expected = list(new.members["lifecycle-prospect"])
    seen: list[str] = []
    with TestClient(create_app(settings)) as client:
        assert client.get("/v1/segments").status_code == 200
        url = "/v1/segments/lifecycle-prospect/members?limit=7"
        cursor = None
        while True:
            page = client.get(url + (f"&cursor={cursor}" if cursor else "")).json()
            assert page["version"] == second
            seen += page["members"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    assert seen == expected and len(expected) > 7


def test_the_key_migration_moves_keys_across_slots_on_a_cluster(cluster_config):
    with connect(cluster_config) as client:
        seed_old_layout(client)
        first = migrate(client, KEYS)
        assert (len(first.renamed), first.conflicts) == (8, [])
        assert list(ExperimentStore(client).definitions()) == ["hero"]
        assert client.xinfo_groups(KEYS.stream(CASES))[0]["name"] == b"ingest"
        assert 0 < client.ttl(KEYS.experiment("hero", "first")) <= 3600
        again = migrate(client, KEYS)
        assert (again.renamed, again.conflicts) == ([], [])
