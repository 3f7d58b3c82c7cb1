"""`POST /v1/events` against a real Redis: validation, idempotency, stream, history, attribution."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import get_args

import orjson
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fields import Channel, EventType
from api.services.impressions import writer_for
from api.settings import ApiSettings
from contracts.schema import CHANNELS, EVENT_TYPES
from store import recent
from store.answers import Answer, record_answers
from store.keys import Keys
from tests.attribution import read_attribution

KEYS = Keys()
STREAM = KEYS.stream("events")


def event(n: int, **overrides: object) -> dict:
    body = {
        "event_id": f"e{n}",
        "customer_id": f"c{n % 3}",
        "item_id": f"i{n}",
        "type": "click",
        "timestamp": "2026-01-02T03:04:05Z",
    }
    body.update(overrides)
    return body


@pytest.fixture
def client(store_config):
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def stream_events(redis_client) -> list[dict]:
    return [orjson.loads(fields[b"d"]) for _id, fields in redis_client.xrange(STREAM)]


def test_api_enums_mirror_the_data_contract():
    assert get_args(EventType) == EVENT_TYPES
    assert get_args(Channel) == CHANNELS


def test_single_event_is_appended_with_defaults(client, redis_client):
    response = client.post("/v1/events", json=event(1))
    assert response.status_code == 202
    assert response.json() == {"accepted": 1, "duplicates": 0, "duplicate_ids": []}
    [stored] = stream_events(redis_client)
    assert stored["event_id"] == "e1"
    assert stored["channel"] == "web" and stored["quantity"] == 1 and stored["value"] == 0.0
    assert stored["timestamp"] == "2026-01-02T03:04:05.000000Z"


def test_missing_timestamp_defaults_to_now(client, redis_client):
    body = event(1)
    del body["timestamp"]
    before = datetime.now(UTC)
    assert client.post("/v1/events", json=body).status_code == 202
    [stored] = stream_events(redis_client)
    ts = datetime.fromisoformat(stored["timestamp"].replace("Z", "+00:00"))
    assert before - timedelta(seconds=1) <= ts <= datetime.now(UTC) + timedelta(seconds=1)


def test_retried_batch_is_not_double_counted(client, redis_client):
    batch = {"events": [event(n) for n in range(10)]}
    first = client.post("/v1/events", json=batch).json()
    retry = client.post("/v1/events", json=batch).json()
    assert (first["accepted"], first["duplicates"]) == (10, 0)
    assert (retry["accepted"], retry["duplicates"]) == (0, 10)
    assert redis_client.xlen(STREAM) == 10


def test_duplicates_inside_one_batch_and_partial_retries(client, redis_client):
    client.post("/v1/events", json={"events": [event(1), event(2)]})
    body = client.post("/v1/events", json={"events": [event(2), event(3), event(3)]}).json()
    assert body == {"accepted": 1, "duplicates": 2, "duplicate_ids": ["e2", "e3"]}
    assert sorted(e["event_id"] for e in stream_events(redis_client)) == ["e1", "e2", "e3"]


def test_idempotency_marks_expire(client, redis_client):
    client.post("/v1/events", json=event(1))
    ttl = redis_client.ttl(KEYS.seen("events", "e1"))
    assert 0 < ttl <= 7 * 24 * 3600


def test_bad_type_in_a_batch_points_at_the_field(client, redis_client):
    batch = {"events": [event(n) for n in range(5)]}
    batch["events"][3]["type"] = "teleport"
    response = client.post("/v1/events", json=batch)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["#/events/3/type"]
    assert redis_client.xlen(STREAM) == 0  # nothing of a bad batch is recorded


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customer_id", ""),
        ("customer_id", "a{b}"),
        ("channel", "fax"),
        ("timestamp", "yesterday"),
        ("timestamp", 1700000000),
        ("timestamp", "1969-12-31T23:59:59Z"),
        ("quantity", -1),
        ("value", "NaN"),
        ("unknown_field", 1),
    ],
)
def test_bad_single_event_field_is_named(client, field, value):
    response = client.post("/v1/events", json=event(1, **{field: value}))
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == f"#/{field}"


def test_future_timestamp_beyond_a_day_is_rejected(client):
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    response = client.post("/v1/events", json=event(1, timestamp=future))
    assert response.status_code == 422


def test_batch_of_1001_is_rejected_and_1000_accepted(client, redis_client):
    too_many = client.post("/v1/events", json={"events": [event(n) for n in range(1001)]})
    assert too_many.status_code == 422
    assert too_many.json()["errors"][0]["pointer"] == "#/events"
    ok = client.post("/v1/events", json={"events": [event(n) for n in range(1000)]})
    assert ok.status_code == 202 and ok.json()["accepted"] == 1000
    assert redis_client.xlen(STREAM) == 1000


def test_invalid_json_and_lone_surrogates_are_422_not_500(client):
    bad = client.post(
        "/v1/events", content=b'{"event_id": ', headers={"content-type": "application/json"}
    )
    assert bad.status_code == 422
    surrogate = b'{"event_id": "e\\ud800", "customer_id": "c", "item_id": "i", "type": "view"}'
    response = client.post(
        "/v1/events", content=surrogate, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422


def test_events_update_the_customers_recent_history(client, redis_client):
    client.post(
        "/v1/events",
        json={
            "events": [
                event(1, customer_id="c9", type="view", timestamp="2026-01-01T00:00:00Z"),
                event(
                    2,
                    customer_id="c9",
                    type="purchase",
                    channel="app",
                    timestamp="2026-01-01T00:00:10Z",
                ),
            ]
        },
    )
    raw = redis_client.lrange(KEYS.customer("c9", "recent"), 0, -1)
    history = recent.decode(raw)
    assert [(e.item_id, e.type, e.channel) for e in history] == [
        ("i2", "purchase", "app"),
        ("i1", "view", "web"),
    ]
    # a duplicate does not push the event again
    client.post("/v1/events", json=event(2, customer_id="c9", type="purchase", channel="app"))
    assert redis_client.llen(KEYS.customer("c9", "recent")) == 2


def test_conversion_is_attributed_to_what_was_served(client, redis_client):
    pipe = redis_client.pipeline(transaction=False)
    shown = [("i1", "product"), ("i2", "product")]
    record_answers(pipe, KEYS, [Answer("c1", "web", shown, "r_abc", 0.0, [])], served_ttl=3600)
    pipe.execute()
    client.post(
        "/v1/events",
        json={
            "events": [
                event(
                    1,
                    customer_id="c1",
                    item_id="i2",
                    type="purchase",
                    value=30.5,
                    recommendation_id="r_abc",
                ),
                event(
                    2,
                    customer_id="c1",
                    item_id="i9",
                    type="purchase",
                    value=5.0,
                    recommendation_id="r_abc",
                ),
                event(3, customer_id="c1", item_id="i1", type="view", recommendation_id="r_abc"),
                event(4, customer_id="c2", item_id="i1", type="click", recommendation_id="r_abc"),
            ]
        },
    )
    report = read_attribution(redis_client, "r_abc")
    assert report["customer_id"] == "c1" and report["items"] == ["i1", "i2"]
    assert report["conversions"] == {
        "purchase": 2,
        "purchase:served": 1,
        "item:i2:purchase": 1,
        "value": 35.5,
        "value:served": 30.5,
        "click": 1,
        "other_customer": 1,
    }


def test_the_attribution_window_is_how_long_served_and_conversions_are_kept(
    store_config, redis_client
):
    """TOUCHPOINT_ATTRIBUTION_DAYS sets the TTL of what each answer served and of the
    conversions credited to it (a week by default)."""
    day = 86400
    for days in (2, None):
        extra = {} if days is None else {"attribution_days": days}
        settings = ApiSettings(
            data_dir=store_config.data_dir, redis_url=store_config.redis_url, **extra
        )
        app = create_app(settings)
        rec_id = f"r_window{days}"

        async def serve_one(app=app, rec_id=rec_id):
            async with app.router.lifespan_context(app):
                answer = Answer("c1", "web", [("i1", "product")], rec_id, 0.0, [])
                writer_for(app.parts.serving).add(answer)

        asyncio.run(serve_one())
        with TestClient(app) as client:
            conversion = event(days or 0, type="purchase", recommendation_id=rec_id)
            assert client.post("/v1/events", json=conversion).status_code == 202
        expected = (days or 7) * day
        for name in ("served", "conversions"):
            ttl = redis_client.ttl(KEYS.recommendation(rec_id, name))
            assert expected - 60 < ttl <= expected, (days, name, ttl)


def test_attribution_days_outside_1_to_90_are_refused():
    for days in (0, 91):
        with pytest.raises(ValueError, match="attribution_days"):
            ApiSettings(attribution_days=days)


def test_redis_down_is_503_problem_not_500(client, redis_server):
    redis_server.stop()
    try:
        response = client.post("/v1/events", json=event(1))
    finally:
        redis_server.start()
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
