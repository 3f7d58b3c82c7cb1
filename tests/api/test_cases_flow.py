"""Cases beyond the queue API: drained by `touchpoint ingest`, worked from the CLI, shown on
the customer's profile, reported on — all against a real Redis."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from jobs.cli import build_app
from jobs.ingest import ingest
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish
from tests.api.test_cases import answer

KEYS = Keys()
REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


@pytest.fixture
def client(store_config, redis_client, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", store_config.redis_url)
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as c:
        yield c


def cli(*args: str) -> str:
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_drains_every_case_change_once(client, redis_client, store_config):
    client.post("/v1/feedback", json=answer(1))
    client.post("/v1/feedback", json=answer(2, score=1))  # joins
    case = client.get("/v1/cases").json()["cases"][0]
    client.patch(f"/v1/cases/{case['case_id']}", json={"status": "contacted"},
                 headers={"If-Match": '"2"'})  # fmt: skip
    data = store_config.data_dir
    results = {r.stream: r for r in ingest(redis_client, KEYS, data, streams=["cases"])}
    assert results["cases"].written == 3
    rows = pq.read_table(data / "cases").to_pylist()
    assert [(r["kind"], r["version"], r["status"]) for r in rows] == [
        ("case.opened", 1, "open"),
        ("case.joined", 2, "open"),
        ("case.updated", 3, "contacted"),
    ]
    assert {r["case_id"] for r in rows} == {case["case_id"]}
    assert rows[0]["due_at"] is not None and rows[2]["contacted_at"] is not None
    again = ingest(redis_client, KEYS, data, streams=["cases"])
    assert again[0].written == 0


def test_profile_shows_open_cases_and_the_last_answer_per_touchpoint(client):
    client.post("/v1/feedback", json=answer(1, customer_id="c1", touchpoint="delivery"))
    client.post("/v1/feedback", json=answer(2, customer_id="c1", touchpoint="checkout",
                                            score=10, comment="smooth"))  # fmt: skip
    profile = client.get("/v1/customers/c1/profile").json()
    (opened,) = profile["open_cases"]
    assert opened["touchpoint"] == "delivery" and opened["case_id"].startswith("case-")
    by_touchpoint = profile["feedback_by_touchpoint"]
    assert by_touchpoint["checkout"]["score"] == 10
    assert by_touchpoint["delivery"]["comment"] == "support never answered"


def test_cli_lists_shows_exports_and_reports(client, store_config, tmp_path):
    client.post("/v1/feedback", json=answer(1, customer_id="a", touchpoint="delivery"))
    client.post("/v1/feedback", json=answer(2, customer_id="b"))
    data = str(store_config.data_dir)
    page = orjson.loads(cli("cases", "list", "--data", data, "--queue", "delivery", "--json"))
    (case,) = page["cases"]
    assert case["customer_id"] == "a" and case["overdue"] is False
    shown = orjson.loads(cli("cases", "show", case["case_id"], "--data", data, "--json"))
    assert shown["case_id"] == case["case_id"] and shown["notes"] == []
    out = tmp_path / "cases.csv"
    cli("cases", "export", "--data", data, "--out", str(out))
    lines = out.read_text().splitlines()
    assert len(lines) == 3 and "case_id" in lines[0]
    body = orjson.loads(cli("cases", "report", "--data", data, "--json"))
    assert body["cases"] == 2 and set(body["queues"]) == {"delivery", "support"}
    missing = CliRunner().invoke(build_app(), ["cases", "show", "case-nope", "--data", data])
    assert missing.exit_code == 2


def test_report_compares_the_next_nps_of_resolved_and_unresolved_cases(client):
    for n, customer in enumerate(("a", "b", "c")):
        client.post("/v1/feedback", json=answer(n, customer_id=customer,
                                                timestamp="2026-01-01T00:00:00Z"))  # fmt: skip
    cases = {c["customer_id"]: c for c in client.get("/v1/cases").json()["cases"]}
    url = f"/v1/cases/{cases['a']['case_id']}"
    client.patch(url, json={"status": "contacted"}, headers={"If-Match": '"1"'})
    client.patch(url, json={"status": "resolved"}, headers={"If-Match": '"2"'})
    # later answers: a (resolved) a promoter, b (open) a passive, c silent
    client.post("/v1/feedback", json=answer(10, customer_id="a", score=10, touchpoint="web"))
    client.post("/v1/feedback", json=answer(11, customer_id="b", score=7, touchpoint="web"))
    body = client.get("/v1/cases/report").json()
    support = body["queues"]["support"]
    assert support["cases"] == 3 and support["open"] == 2
    assert support["hours_to_resolution"]["n"] == 1
    assert support["within_sla"]["n"] == 1 and support["within_sla"]["share"] == 1.0
    nps = body["next_nps"]
    assert (nps["resolved"]["n"], nps["resolved"]["mean"]) == (1, 10.0)
    assert (nps["not_resolved"]["n"], nps["not_resolved"]["mean"]) == (1, 7.0)
    assert nps["difference_of_means"] is None  # too few for an interval
    assert "observational" in nps["warning"].lower() or "not an experiment" in nps["warning"]
