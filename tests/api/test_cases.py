"""Follow-up cases end to end: `POST /v1/feedback` opens or joins them in real Redis, the
queue API lists, reads and works them (cursor, ETag/If-Match, 409/412/428), scopes hold."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.apikeys import create_key
from store.case_events import CASE_EVENTS, decode_case_event, open_cases_key
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

KEYS = Keys()
REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


def answer(n: int, **overrides: object) -> dict:
    body = {
        "response_id": f"r{n}",
        "customer_id": "c9",
        "survey": "nps",
        "score": 3,
        "comment": "support never answered",
        "touchpoint": "support",
        "channel": "web",
    }
    body.update(overrides)
    return body


@pytest.fixture
def rules(tmp_path, monkeypatch):
    directory = tmp_path / "rules"
    directory.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", directory / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(directory))
    return directory


@pytest.fixture
def client(store_config, redis_client, rules):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as c:
        yield c


def events(redis_client) -> list[dict]:
    return [decode_case_event(f) for _, f in redis_client.xrange(KEYS.stream(CASE_EVENTS))]


def listed(client, **params) -> dict:
    r = client.get("/v1/cases", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_detractor_opens_a_case_in_its_touchpoints_queue(client, redis_client):
    assert client.post("/v1/feedback", json=answer(1)).status_code == 202
    (case,) = listed(client)["cases"]
    assert case["status"] == "open"
    assert case["queue"] == "support"  # rules/cases.yaml: support touchpoint → support queue
    assert case["customer_id"] == "c9" and case["score"] == 3 and case["version"] == 1
    assert case["comment"] == "support never answered"
    created = time.strptime(case["created_at"], "%Y-%m-%dT%H:%M:%SZ")
    due = time.strptime(case["due_at"], "%Y-%m-%dT%H:%M:%SZ")
    assert time.mktime(due) - time.mktime(created) == 8 * 3600  # the support SLA
    assert case["overdue"] is False
    opens = redis_client.hgetall(open_cases_key(KEYS, "c9"))
    assert opens == {b"support": case["case_id"].encode()}
    (event,) = events(redis_client)
    assert event["kind"] == "case.opened" and event["case"]["case_id"] == case["case_id"]
    assert event["queue"] == "support" and event["event_id"]
    assert redis_client.xlen(KEYS.stream("cases")) == 1


@pytest.mark.parametrize(
    ("survey", "score", "opens"),
    [("nps", 6, True), ("nps", 7, False), ("csat", 2, True), ("csat", 3, False),
     ("ces", 3, True), ("ces", 4, False)],
)  # fmt: skip
def test_default_thresholds(client, survey, score, opens):
    client.post("/v1/feedback", json=answer(1, survey=survey, score=score))
    assert len(listed(client)["cases"]) == (1 if opens else 0)


def test_a_second_bad_answer_joins_the_open_case_and_a_retry_does_not(client, redis_client):
    client.post("/v1/feedback", json=answer(1, score=5))
    client.post("/v1/feedback", json=answer(2, score=0, comment="still nothing"))
    client.post("/v1/feedback", json=answer(2, score=0, comment="still nothing"))  # retry
    (case,) = listed(client)["cases"]
    assert case["answers"] == 2 and case["score"] == 0 and case["version"] == 2
    assert case["severity"] == 3  # the worse answer's severity: the more urgent priority
    assert [e["kind"] for e in events(redis_client)] == ["case.opened", "case.joined"]
    client.post("/v1/feedback", json=answer(3, touchpoint="delivery"))
    assert {c["queue"] for c in listed(client)["cases"]} == {"support", "delivery"}


def test_priority_is_severity_times_the_customers_published_value(client):
    # c1: silver (1.2) Champions (1.5) → 1.8 × severity; c9 unknown → 1.0 × severity
    client.post("/v1/feedback", json=answer(1, customer_id="c1", score=4))  # severity 2
    client.post("/v1/feedback", json=answer(2, customer_id="c9", score=4))
    by_customer = {c["customer_id"]: c for c in listed(client)["cases"]}
    assert by_customer["c1"]["priority_score"] == pytest.approx(3.6)
    assert by_customer["c1"]["priority"] == "p2"
    assert by_customer["c9"]["priority_score"] == pytest.approx(2.0)
    client.post("/v1/feedback", json=answer(3, customer_id="c2", score=0))  # gold, At Risk
    urgent = listed(client, order="urgent")["cases"]
    assert urgent[0]["customer_id"] == "c2"
    assert urgent[0]["priority"] == "p1"


def test_pages_follow_a_stable_cursor_even_while_cases_arrive(client):
    for n in range(7):
        client.post("/v1/feedback", json=answer(n, customer_id=f"k{n}"))
    first = listed(client, limit=3)
    client.post("/v1/feedback", json=answer(99, customer_id="late"))  # newest: page 0's place
    seen = [c["customer_id"] for c in first["cases"]]
    cursor = first["next_cursor"]
    while cursor:
        page = listed(client, limit=3, cursor=cursor)
        seen += [c["customer_id"] for c in page["cases"]]
        cursor = page["next_cursor"]
    assert seen == [f"k{n}" for n in range(6, -1, -1)]


def test_filters_combine(client):
    client.post("/v1/feedback", json=answer(1, customer_id="a", touchpoint="delivery"))
    client.post("/v1/feedback", json=answer(2, customer_id="b", touchpoint="support"))
    client.post("/v1/feedback", json=answer(3, customer_id="c", touchpoint="returns"))
    delivery = listed(client, queue="delivery")["cases"]
    assert sorted(c["customer_id"] for c in delivery) == ["a", "c"]
    assert [c["customer_id"] for c in listed(client, queue="delivery", touchpoint="returns")
            ["cases"]] == ["c"]  # fmt: skip
    assert listed(client, status="resolved")["cases"] == []


def test_a_bad_cursor_is_a_422_pointing_at_it(client):
    r = client.get("/v1/cases", params={"cursor": "not-a-cursor"})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["pointer"] == "cursor"


def test_get_gives_an_etag_and_unknown_cases_are_404(client):
    client.post("/v1/feedback", json=answer(1))
    (case,) = listed(client)["cases"]
    r = client.get(f"/v1/cases/{case['case_id']}")
    assert r.status_code == 200 and r.headers["etag"] == '"1"'
    assert client.get("/v1/cases/case-nope").status_code == 404


def test_working_a_case_through_its_life_cycle(client, redis_client):
    client.post("/v1/feedback", json=answer(1))
    (case,) = listed(client)["cases"]
    url = f"/v1/cases/{case['case_id']}"
    assert client.patch(url, json={"status": "contacted"}).status_code == 428
    jumped = client.patch(url, json={"status": "resolved"}, headers={"If-Match": '"1"'})
    assert jumped.status_code == 409 and jumped.json()["allowed"] == ["closed_no_action",
                                                                      "contacted"]  # fmt: skip
    r = client.patch(url, json={"status": "contacted", "assignee": "ana", "note": "called"},
                     headers={"If-Match": '"1"'})  # fmt: skip
    assert r.status_code == 200 and r.headers["etag"] == '"2"'
    body = r.json()
    assert body["status"] == "contacted" and body["assignee"] == "ana" and body["contacted_at"]
    assert [n["note"] for n in body["notes"]] == ["called"]
    stale = client.patch(url, json={"status": "resolved"}, headers={"If-Match": '"1"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    done = client.patch(url, json={"status": "resolved"}, headers={"If-Match": '"2"'})
    assert done.status_code == 200 and done.json()["resolved_at"]
    assert redis_client.hgetall(open_cases_key(KEYS, "c9")) == {}
    assert [c["case_id"] for c in listed(client, status="resolved")["cases"]] == [case["case_id"]]
    assert listed(client, status="open")["cases"] == []
    assert [e["kind"] for e in events(redis_client)] == [
        "case.opened", "case.updated", "case.resolved"]  # fmt: skip
    client.post("/v1/feedback", json=answer(2))  # the old case is closed: a new one opens
    assert len(listed(client, status="open")["cases"]) == 1
    again = client.patch(url, json={"status": "contacted"}, headers={"If-Match": '"3"'})
    assert again.status_code == 409


def test_an_empty_change_is_refused(client):
    client.post("/v1/feedback", json=answer(1))
    (case,) = listed(client)["cases"]
    r = client.patch(f"/v1/cases/{case['case_id']}", json={}, headers={"If-Match": "*"})
    assert r.status_code == 422


def test_a_case_past_its_sla_is_overdue(store_config, redis_client, rules):
    text = (rules / "cases.yaml").read_text().replace("sla_hours: 8", "sla_hours: 0.00001")
    (rules / "cases.yaml").write_text(text)
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as c:
        c.post("/v1/feedback", json=answer(1))
        time.sleep(1.1)  # due_at has a one-second resolution
        (case,) = listed(c)["cases"]
    assert case["overdue"] is True


def test_cases_need_the_cases_scope(store_config, redis_client, rules):
    _, writer = create_key(redis_client, KEYS, name="pos", scopes=["events:write"])
    _, agent = create_key(redis_client, KEYS, name="desk", scopes=["cases:write"])
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        _scoped(client, writer, agent)


def _scoped(client, writer, agent):
    assert client.post("/v1/feedback", json=answer(1),
                       headers={"X-API-Key": writer}).status_code == 202  # fmt: skip
    assert client.get("/v1/cases", headers={"X-API-Key": writer}).status_code == 403
    r = client.get("/v1/cases", headers={"X-API-Key": agent})
    assert r.status_code == 200 and len(r.json()["cases"]) == 1


def test_a_bad_cases_yaml_fails_start_up_with_its_line(store_config, rules):
    (rules / "cases.yaml").write_text("thresholds:\n  nps: {max: 12}\n")
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with pytest.raises(ValueError, match=r"cases.yaml, line 2: thresholds.nps.max"):
        create_app(settings)


def test_case_events_carry_the_case_as_json(client, redis_client):
    client.post("/v1/feedback", json=answer(1))
    ((_, fields),) = redis_client.xrange(KEYS.stream("cases"))
    record = orjson.loads(fields[b"d"])
    assert record["kind"] == "case.opened" and record["record_id"]
    assert record["status"] == "open" and record["version"] == 1
