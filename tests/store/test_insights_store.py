"""The `insights` artifact and the live survey counts, against a real Redis."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
import redis.asyncio as aioredis

from store import versions
from store.insights import ARTIFACT, InsightsReader, publish_insights
from store.keys import Keys
from store.live_feedback import LIVE_DAYS, count_answer, read_days
from store.versions import Versions

KEYS = Keys()


def read(redis_url: str, name: str, version: str | None = None) -> tuple[str | None, bytes | None]:
    async def go() -> tuple[str | None, bytes | None]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            reader = InsightsReader(client, KEYS)
            live = version or await reader.live_version()
            return live, (await reader.document(live, name) if live else None)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_documents_and_model_round_trip_through_a_published_version(
    redis_client, redis_url, store_config
):
    docs = {
        "scores/nps/touchpoint/week": [{"touchpoint": "checkout", "value": np.float64(12.5)}],
        "summary": {"responses": np.int64(3), "missing": float("nan")},
    }
    version = publish_insights(redis_client, store_config, docs, sentiment_model=b"\x00npz")
    live, raw = read(redis_url, "summary")
    assert live == version
    assert raw == b'{"responses":3,"missing":null}'
    _, rows = read(redis_url, "scores/nps/touchpoint/week")
    assert rows == b'[{"touchpoint":"checkout","value":12.5}]'

    async def rest() -> tuple[list[str], bytes | None, dict | None]:
        client = aioredis.Redis.from_url(redis_url)
        reader = InsightsReader(client, KEYS)
        out = (
            await reader.names(version),
            await reader.sentiment_model(version),
            await reader.meta(version),
        )
        await client.aclose()
        return out

    names, model, meta = asyncio.run(rest())
    assert names == sorted(docs)
    assert model == b"\x00npz"
    assert meta is not None and meta["documents"] == 2 and meta["sentiment_model"] is True


def test_a_publish_that_fails_half_way_leaves_the_previous_version_live(
    redis_client, redis_url, store_config, monkeypatch
):
    first = publish_insights(redis_client, store_config, {"summary": {"run": 1}})
    calls = {"n": 0}
    real = versions.Release.set

    def dying(self, key, value):  # the connection drops after the first write
        calls["n"] += 1
        if calls["n"] > 1:
            raise ConnectionError("redis went away")
        real(self, key, value)

    monkeypatch.setattr(versions.Release, "set", dying)
    with pytest.raises(ConnectionError):
        publish_insights(redis_client, store_config, {"summary": {"run": 2}, "journey": []})
    assert Versions(redis_client, store_config).live(ARTIFACT) == first
    assert read(redis_url, "summary") == (first, b'{"run":1}')


def test_an_unencodable_document_fails_before_anything_is_written(redis_client, store_config):
    first = publish_insights(redis_client, store_config, {"summary": {"run": 1}})
    before = set(redis_client.keys("*"))
    with pytest.raises(TypeError):
        publish_insights(redis_client, store_config, {"summary": {"n": 2**70}})
    assert set(redis_client.keys("*")) == before
    assert Versions(redis_client, store_config).live(ARTIFACT) == first


def test_live_counts_are_a_histogram_per_day_survey_score_and_touchpoint(redis_client, redis_url):
    answers = [
        {"survey": "nps", "score": 10, "touchpoint": "checkout", "timestamp": "2026-03-01T10:00Z"},
        {"survey": "nps", "score": 10, "touchpoint": "checkout", "timestamp": "2026-03-01T23:59Z"},
        {"survey": "nps", "score": 3, "touchpoint": "", "timestamp": "2026-03-01T11:00Z"},
        {"survey": "ces", "score": 6, "touchpoint": "a:b", "timestamp": "2026-03-02T00:00Z"},
    ]
    pipe = redis_client.pipeline(transaction=False)
    for answer in answers:
        count_answer(pipe, KEYS, answer)
    pipe.execute()
    ttl = redis_client.ttl(KEYS.feedback_day("2026-03-01"))
    assert LIVE_DAYS * 86_400 - 10 < ttl <= LIVE_DAYS * 86_400

    async def go() -> dict:
        client = aioredis.Redis.from_url(redis_url)
        try:
            return await read_days(client, KEYS, ["2026-03-01", "2026-03-02", "2026-03-03"])
        finally:
            await client.aclose()

    days = asyncio.run(go())
    first = {(c.survey, c.score, c.touchpoint): c.count for c in days["2026-03-01"]}
    assert first == {("nps", 10, "checkout"): 2, ("nps", 3, ""): 1}
    assert [(c.survey, c.score, c.touchpoint) for c in days["2026-03-02"]] == [("ces", 6, "a:b")]
    assert days["2026-03-03"] == []
