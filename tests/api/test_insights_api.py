"""`/v1/insights/*` against a real Redis: published documents, filters, errors, live counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.services import insights as service
from api.settings import ApiSettings
from insights.build import document_name
from store.apikeys import create_key
from store.insights import publish_insights
from store.keys import Keys
from store.segments import SegmentRelease, publish_segments

KEYS = Keys()


@pytest.fixture(autouse=True)
def cold_cache(monkeypatch):
    """Every test starts with a cold cache (the live pointer is re-read on each request)."""
    monkeypatch.setattr(service, "CACHE", service.DocumentCache(live_seconds=0))


@pytest.fixture
def client(store_config):
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def week_rows() -> list[dict]:
    return [
        {"touchpoint": tp, "period": week, "metric": "nps", "n": 40, "value": v, "low": v - 9,
         "high": v + 9, "insufficient": False}
        for tp, v in (("checkout", 30.0), ("support", -20.0))
        for week in ("2026-01-05", "2026-01-12", "2026-01-19")
    ]  # fmt: skip


def publish_some(redis_client, store_config) -> str:
    docs = {
        document_name("nps", ["touchpoint"], "week"): week_rows(),
        document_name("nps", ["stage", "segment"], None): [
            {"stage": "after_use", "segment": "vip", "n": 12, "value": 5.0, "insufficient": True},
            {"stage": "after_use", "segment": "rfm-lost", "n": 50, "value": -40.0},
        ],
        "drivers/nps": {"drivers": [{"feature": "satisfaction:delivery", "weight": 0.4}]},
        "themes": [
            {"name": "delivery late", "touchpoints": {"delivery": 30}, "stages": {"purchase": 30}},
            {"name": "app crash", "touchpoints": {"app": 12}, "stages": {"purchase": 12}},
        ],
        "journey": [{"stage": "before_purchase", "nps": {"value": 10.0}}],
        "journey_map": {
            "stages": ["before_purchase", "purchase_and_use", "after_use"],
            "touchpoints": {
                "checkout": {"stage": "purchase_and_use", "channel": "web"},
                "support": {"stage": "after_use", "channel": "call_centre"},
            },
        },
        "summary": {"until": "2026-01-20"},
    }
    return publish_insights(redis_client, store_config, docs)


def publish_segment_names(redis_client, store_config, names: list[str]) -> None:
    catalogue = [{"name": n, "family": "rule", "size": 1} for n in names]
    members = {n: ["c1"] for n in names}
    release = SegmentRelease(catalogue, members, [("c1", ";".join(names))], {}, None, {})
    publish_segments(redis_client, store_config, release)


def test_nothing_published_gives_empty_answers_with_a_hint_never_404(client):
    for path in ("/v1/insights/scores", "/v1/insights/journey", "/v1/insights/drivers",
                 "/v1/insights/themes"):  # fmt: skip
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.json()
        assert body["version"] is None and "touchpoint insights" in body["hint"], path
    assert client.get("/v1/insights/scores").json()["rows"] == []
    sentiment = client.post("/v1/insights/sentiment", json={"texts": ["great"]})
    assert sentiment.status_code == 200 and sentiment.json()["scores"] == []


@pytest.mark.parametrize(
    ("query", "pointer"),
    [
        ("metric=happiness", "metric"),
        ("by=touchpoint,colour", "by"),
        ("by=touchpoint,stage,channel", "by"),
        ("period=fortnight", "period"),
        ("period=days", "period"),
        ("period=week&from=2026-02-01&to=2026-01-01", "from"),
        ("segment=nobody", "segment"),
    ],
)
def test_bad_parameters_are_422_problems_naming_the_field(
    client, redis_client, store_config, query, pointer
):
    publish_some(redis_client, store_config)
    publish_segment_names(redis_client, store_config, ["vip"])
    response = client.get(f"/v1/insights/scores?{query}")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert named(response.json()) == pointer


def named(problem: dict) -> str:
    """The field a problem points at: the service's `pointer`, or FastAPI's first error."""
    pointer = problem.get("pointer") or problem["errors"][0]["pointer"]
    return str(pointer).removeprefix("query/")


def test_unknown_metric_for_drivers_is_422_too(client):
    response = client.get("/v1/insights/drivers?metric=nope")
    assert response.status_code == 422 and response.json()["pointer"] == "metric"


def test_scores_filter_periods_by_from_and_to(client, redis_client, store_config):
    version = publish_some(redis_client, store_config)
    body = client.get(
        "/v1/insights/scores?metric=nps&by=touchpoint&period=week&from=2026-01-10&to=2026-01-19"
    ).json()
    assert body["version"] == version
    assert sorted({r["period"] for r in body["rows"]}) == ["2026-01-12", "2026-01-19"]
    assert len(body["rows"]) == 4
    everything = client.get("/v1/insights/scores?by=touchpoint&period=week").json()
    assert everything["rows"] == week_rows()


def test_a_segment_filter_reads_the_segment_breakdown_and_keeps_insufficient_cells(
    client, redis_client, store_config
):
    publish_some(redis_client, store_config)
    publish_segment_names(redis_client, store_config, ["vip", "rfm-lost"])
    body = client.get("/v1/insights/scores?by=stage&segment=vip").json()
    assert body["by"] == ["stage", "segment"]
    assert body["rows"] == [
        {"stage": "after_use", "segment": "vip", "n": 12, "value": 5.0, "insufficient": True}
    ]
    missing = client.get("/v1/insights/scores?by=channel&segment=vip")
    assert missing.status_code == 422 and missing.json()["pointer"] == "segment"


def test_drivers_and_themes_come_as_published_and_themes_filter(client, redis_client, store_config):
    publish_some(redis_client, store_config)
    drivers = client.get("/v1/insights/drivers?metric=nps").json()
    assert drivers["data"]["drivers"][0]["feature"] == "satisfaction:delivery"
    themes = client.get("/v1/insights/themes?touchpoint=app").json()["themes"]
    assert [t["name"] for t in themes] == ["app crash"]
    assert len(client.get("/v1/insights/themes").json()["themes"]) == 2
    no_csat = client.get("/v1/insights/drivers?metric=csat").json()
    assert no_csat["data"] is None and "no 'drivers/csat'" in no_csat["hint"]


def test_posted_feedback_shows_in_the_journey_at_once(client, redis_client, store_config):
    publish_some(redis_client, store_config)
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    answers = [(10, "checkout"), (9, "checkout"), (9, "checkout"), (2, "checkout"), (0, "kiosk")]
    responses = [
        {"response_id": f"r{i}", "customer_id": "c1", "survey": "nps", "score": score,
         "touchpoint": tp, "timestamp": now}
        for i, (score, tp) in enumerate(answers)
    ]  # fmt: skip
    assert client.post("/v1/feedback", json={"responses": responses}).status_code == 202
    assert client.post("/v1/feedback", json=responses[0]).json()["duplicates"] == 1  # not twice
    body = client.get("/v1/insights/journey").json()
    assert body["stages"] == ["before_purchase", "purchase_and_use", "after_use"]
    assert body["batch"] == [{"stage": "before_purchase", "nps": {"value": 10.0}}]
    stages = {s["stage"]: s for s in body["live"]["stages"]}
    assert stages["purchase_and_use"]["nps"]["n"] == 4
    assert stages["purchase_and_use"]["nps"]["value"] == 50.0  # 3 promoters, 1 detractor of 4
    low, high = stages["purchase_and_use"]["nps"]["low"], stages["purchase_and_use"]["nps"]["high"]
    assert low < 50.0 < high
    assert stages[""]["nps"]["value"] == -100.0  # the unmapped kiosk, kept and shown
    assert [s["stage"] for s in body["live"]["stages"]] == ["purchase_and_use", ""]


def test_the_routes_need_the_insights_scope(store_config, redis_client):
    _, reader = create_key(redis_client, KEYS, name="cx", scopes=["insights:read"])
    _, other = create_key(redis_client, KEYS, name="seg", scopes=["segments:read"])
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as c:
        ok = c.get("/v1/insights/journey", headers={"X-API-Key": reader})
        assert ok.status_code == 200
        denied = c.get("/v1/insights/journey", headers={"X-API-Key": other})
        assert denied.status_code == 403 and denied.json()["scope"] == "insights:read"


def test_the_routes_are_in_the_openapi_document(client):
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("scores", "journey", "drivers", "themes", "sentiment"):
        assert f"/v1/insights/{path}" in paths
    params = {p["name"] for p in paths["/v1/insights/scores"]["get"]["parameters"]}
    assert {"metric", "by", "period", "from", "to", "segment"} <= params


def test_sentiment_takes_at_most_1000_texts(client):
    response = client.post("/v1/insights/sentiment", json={"texts": ["ok"] * 1001})
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/texts"


def test_events_carry_an_optional_touchpoint_to_the_stream(client, redis_client):
    import orjson

    event = {"event_id": "e1", "customer_id": "c1", "item_id": "i1", "type": "view",
             "touchpoint": "product_page"}  # fmt: skip
    assert client.post("/v1/events", json=event).status_code == 202
    [(_, fields)] = redis_client.xrange(KEYS.stream("events"))
    assert orjson.loads(fields[b"d"])["touchpoint"] == "product_page"
    default = client.post("/v1/events", json={**event, "event_id": "e2", "touchpoint": None})
    assert default.status_code == 422  # a string when given; left out it is "" (derived)
    long = client.post("/v1/events", json={**event, "event_id": "e3", "touchpoint": "x" * 129})
    assert long.status_code == 422
    assert long.json()["errors"][0]["pointer"] == "#/touchpoint"


def test_redis_out_of_reach_is_a_503_problem_not_a_500(client, redis_server):
    redis_server.stop()
    try:
        for path in ("/v1/insights/scores", "/v1/insights/journey", "/v1/insights/themes"):
            response = client.get(path)
            assert response.status_code == 503, (path, response.text)
            assert response.headers["content-type"] == "application/problem+json"
    finally:
        redis_server.start()
