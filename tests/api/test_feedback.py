"""`POST /v1/feedback` against a real Redis: survey ranges, idempotency, latest answer kept."""

from __future__ import annotations

from typing import get_args

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fields import Survey
from api.settings import ApiSettings
from contracts.schema import SURVEYS
from store import feedback
from store.keys import Keys

KEYS = Keys()


def response(n: int, **overrides: object) -> dict:
    body = {
        "response_id": f"f{n}",
        "customer_id": "c1",
        "survey": "nps",
        "score": 9,
        "touchpoint": "checkout",
        "timestamp": "2026-03-01T10:00:00Z",
    }
    body.update(overrides)
    return body


@pytest.fixture
def client(store_config):
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def latest(redis_client, customer_id: str) -> dict:
    return feedback.decode(redis_client.hgetall(KEYS.customer(customer_id, "feedback")))


def test_survey_enum_mirrors_the_contract():
    assert get_args(Survey) == SURVEYS


@pytest.mark.parametrize(
    ("survey", "score", "ok"),
    [
        ("nps", 0, True),
        ("nps", 10, True),
        ("nps", 11, False),
        ("csat", 0, False),
        ("csat", 5, True),
        ("csat", 6, False),
        ("ces", 7, True),
        ("ces", 8, False),
    ],
)
def test_score_is_checked_against_the_survey_range(client, survey, score, ok):
    r = client.post("/v1/feedback", json=response(1, survey=survey, score=score))
    if ok:
        assert r.status_code == 202
    else:
        assert r.status_code == 422
        assert r.json()["errors"][0]["pointer"] == "#/score"


def test_batch_error_points_into_the_batch(client):
    batch = {"responses": [response(1), response(2, survey="csat", score=9)]}
    r = client.post("/v1/feedback", json=batch)
    assert r.status_code == 422
    assert r.json()["errors"][0]["pointer"] == "#/responses/1/score"


def test_responses_reach_the_stream_once(client, redis_client):
    batch = {"responses": [response(1), response(2, survey="ces", score=3)]}
    assert client.post("/v1/feedback", json=batch).json()["accepted"] == 2
    assert client.post("/v1/feedback", json=batch).json()["duplicates"] == 2
    stored = [orjson.loads(f[b"d"]) for _i, f in redis_client.xrange(KEYS.stream("feedback"))]
    assert [s["response_id"] for s in stored] == ["f1", "f2"]
    assert stored[0]["touchpoint"] == "checkout" and stored[0]["channel"] == "web"


def test_latest_score_per_survey_ignores_older_late_arrivals(client, redis_client):
    client.post("/v1/feedback", json=response(1, score=3, timestamp="2026-03-02T00:00:00Z"))
    client.post("/v1/feedback", json=response(2, score=10, timestamp="2026-03-01T00:00:00Z"))
    client.post("/v1/feedback", json=response(3, survey="csat", score=4))
    answers = latest(redis_client, "c1")
    assert answers["nps"]["score"] == 3 and answers["nps"]["response_id"] == "f1"
    assert answers["csat"]["score"] == 4
    client.post("/v1/feedback", json=response(4, score=8, timestamp="2026-03-05T00:00:00Z"))
    assert latest(redis_client, "c1")["nps"]["score"] == 8
    assert redis_client.ttl(KEYS.customer("c1", "feedback")) > 0
