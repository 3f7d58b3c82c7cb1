"""A comment's sentiment opens a follow-up case (issue 21): `POST /v1/feedback` scores the
comment of an answer whose score opens none with the sentiment model the insights batch
published, in real Redis; without a published model intake goes on by scores alone."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from insights.sentiment import fit_sentiment
from insights.text import normalize_many
from store.insights import publish_insights
from tests.api.personal_factories import bundle, catalogue, publish

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
NEGATIVE = ["terrible", "awful", "rude", "never answered", "broken", "useless", "worst"]
POSITIVE = ["great", "lovely", "helpful", "quick answer", "perfect", "friendly", "best"]
ANGRY = "terrible rude useless support, never answered, the worst"


def labelled() -> tuple[list[str], np.ndarray]:
    """Comments made of the words of one side (label 1 positive, 0 negative)."""
    rng = np.random.default_rng(7)
    texts, labels = [], []
    for label, words in ((0, NEGATIVE), (1, POSITIVE)):
        for _ in range(60):
            picked = rng.choice(words, size=3, replace=False)
            texts.append(f"the delivery was {picked[0]}, {picked[1]} and {picked[2]}")
            labels.append(label)
    return normalize_many(texts), np.array(labels, dtype=np.int8)


@pytest.fixture
def client(store_config, redis_client, tmp_path, monkeypatch):
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")  # sentiment max: -0.6
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as c:
        yield c


@pytest.fixture
def published_model(redis_client, store_config):
    model = fit_sentiment(*labelled())
    assert model.score([ANGRY])[0] <= -0.6  # the premise: the comment is strongly negative
    publish_insights(redis_client, store_config, {"summary": {}},
                     sentiment_model=model.to_bytes())  # fmt: skip
    return model


def answer(n: int, comment: str, **overrides: object) -> dict:
    body = {"response_id": f"r{n}", "customer_id": f"c{n}", "survey": "nps", "score": 8,
            "comment": comment, "touchpoint": "delivery", "channel": "web"}  # fmt: skip
    return {**body, **overrides}


def cases(client) -> list[dict]:
    r = client.get("/v1/cases")
    assert r.status_code == 200, r.text
    return r.json()["cases"]


def test_a_strongly_negative_comment_opens_a_case_despite_a_passive_score(client, published_model):
    assert client.post("/v1/feedback", json=answer(1, ANGRY)).status_code == 202
    (case,) = cases(client)
    assert case["trigger"] == "sentiment" and case["score"] == 8
    assert case["customer_id"] == "c1" and case["queue"] == "delivery"
    assert case["severity"] == 1 and case["comment"] == ANGRY


def test_a_kind_comment_or_none_opens_no_case(client, published_model):
    assert (
        client.post("/v1/feedback", json=answer(1, "great, helpful and friendly")).status_code
        == 202
    )
    assert client.post("/v1/feedback", json=answer(2, "")).status_code == 202
    assert cases(client) == []


def test_a_bad_score_still_opens_its_case_by_score(client, published_model):
    client.post("/v1/feedback", json=answer(1, ANGRY, score=2))
    (case,) = cases(client)
    assert case["trigger"] == "score" and case["severity"] == 3


def test_without_a_published_model_the_comment_opens_nothing(client, redis_client, store_config):
    publish_insights(redis_client, store_config, {"summary": {}})  # a version with no model
    assert client.post("/v1/feedback", json=answer(1, ANGRY)).status_code == 202
    assert client.post("/v1/feedback", json=answer(2, ANGRY, score=3)).status_code == 202
    assert [c["trigger"] for c in cases(client)] == ["score"]


def test_without_any_insights_intake_is_unchanged(client):
    r = client.post("/v1/feedback", json=answer(1, ANGRY))
    assert r.status_code == 202, r.text
    assert cases(client) == []
