"""The fast path answers exactly as the declared FastAPI routes, and only what they accept.

The reference is the same app with the fast path switched off (`fast_ahead = False`), so
FastAPI's own dependency solving and pydantic validation produce the expected bodies; a spy
on the fast path's `answer` shows which side answered.
"""

from __future__ import annotations

import random
from urllib.parse import parse_qsl

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.fastpath import _params, parse
from api.settings import ApiSettings
from store.apikeys import create_key
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

BAD = [
    ("c1", {"k": "0"}),
    ("c1", {"k": "101"}),
    ("c1", {"k": "abc"}),
    ("c1", {"k": ""}),
    ("c1", {"k": "2.5"}),
    ("c1", {"channel": "fax"}),
    ("c1", {"channel": ""}),
    ("c1", {"category": "x" * 129}),
    ("c1", {"context_item": "x" * 129}),
    ("c1", {"exclude": "x" * 4097}),
    ("c1", {"k": "0", "channel": "fax"}),
    ("c%7B1%7D", {}),
    ("c%201", {}),
    ("x" * 129, {}),
]


@pytest.mark.parametrize(("customer", "params"), BAD)
def test_bad_input_gets_the_same_422_problem(clients, answered, customer, params):
    fast, slow = clients
    path = f"/v1/customers/{customer}/recommendations"
    a, b = fast.get(path, params=params), slow.get(path, params=params)
    assert a.status_code == b.status_code == 422
    assert a.headers["content-type"] == b.headers["content-type"] == "application/problem+json"
    assert a.json() == b.json()
    assert answered == []


GOOD = [
    ("c1", {}),
    ("c1", {"k": "3", "channel": "web"}),
    ("c1", {"k": "5", "category": "Home", "exclude": "p12,p13"}),
    ("c1", {"k": "4", "context_item": "p2"}),
    ("c3", {"k": "100", "channel": "app"}),
    ("c2", {"channel": "email"}),
    ("nobody", {"k": "+2"}),
]


@pytest.mark.parametrize(("customer", "params"), GOOD)
def test_answers_match_the_declared_route(clients, answered, customer, params):
    fast, slow = clients
    path = f"/v1/customers/{customer}/recommendations"
    a = fast.get(path, params=params).json()
    assert answered == [customer]  # the fast path answered this one…
    b = slow.get(path, params=params).json()
    assert answered == [customer]  # …and the declared route that one
    assert a.pop("recommendation_id") != b.pop("recommendation_id")
    assert a == b and (a["items"] or a.get("suppressed"))


PAGE = {
    "customer_id": "c1",
    "channel": "web",
    "slots": [
        {"name": "hero", "kind": "product", "k": 3},
        {"name": "deals", "kind": "offer", "k": 2},
        {"name": "more", "k": 2, "filters": {"category": "Home", "exclude": ["p12"]}},
    ],
}


@pytest.mark.parametrize("page", [PAGE, {**PAGE, "customer_id": "nobody", "channel": None}])
def test_personalize_answers_match_the_declared_route(clients, answered, page):
    fast, slow = clients
    a = fast.post("/v1/personalize", json=page)
    assert answered == [page["customer_id"]]
    b = slow.post("/v1/personalize", json=page)
    assert answered == [page["customer_id"]]
    assert a.status_code == b.status_code == 200
    a_body, b_body = a.json(), b.json()
    assert a_body.pop("recommendation_id") != b_body.pop("recommendation_id")
    assert a_body == b_body and all(slot["items"] for slot in a_body["slots"])


BAD_PAGES = [
    {**PAGE, "slots": [{"name": "hero", "k": 0}]},
    {**PAGE, "slots": [{"name": "a"}, {"name": "a"}]},
    {**PAGE, "channel": "fax"},
    {**PAGE, "surprise": True},
    {"channel": "web", "slots": PAGE["slots"]},
    [PAGE],
]


@pytest.mark.parametrize("page", BAD_PAGES)
def test_personalize_bad_bodies_get_the_declared_routes_422(clients, answered, page):
    fast, slow = clients
    a, b = fast.post("/v1/personalize", json=page), slow.post("/v1/personalize", json=page)
    assert a.status_code == b.status_code == 422
    assert a.json() == b.json() and a.json()["errors"][0]["pointer"].startswith("#")
    assert answered == []


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b'{"customer_id": "c1", "slots": [', {"content-type": "application/json"}),
        (b'{"customer_id": "c1", "slots": [{"name": "a", "k": NaN}]}',
         {"content-type": "application/json"}),
        (b"customer_id=c1", {"content-type": "application/x-www-form-urlencoded"}),
    ],
)  # fmt: skip
def test_personalize_unreadable_bodies_go_to_the_declared_route(clients, answered, content,
                                                                 headers):  # fmt: skip
    fast, slow = clients
    a = fast.post("/v1/personalize", content=content, headers=headers)
    b = slow.post("/v1/personalize", content=content, headers=headers)
    assert a.status_code == b.status_code and a.status_code >= 400
    assert a.json() == b.json()
    assert answered == []


def test_personalize_body_over_the_limit_is_413(redis_client, store_config, answered):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, max_body_bytes=1024
    )
    page = {**PAGE, "slots": [{"name": f"s{i}", "filters": {"exclude": ["x" * 100] * 3}}
                              for i in range(5)]}  # fmt: skip
    with TestClient(create_app(settings)) as client:
        response = client.post("/v1/personalize", json=page)
    assert response.status_code == 413 and answered == []


def test_keys_are_checked_and_failures_answered_by_the_declared_route(
    redis_client, store_config, answered
):
    publish(redis_client, store_config, bundle(catalogue()))
    _, reader = create_key(redis_client, Keys(), name="shop", scopes=["personalize:read"])
    _, writer = create_key(redis_client, Keys(), name="pos", scopes=["events:write"])
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    path = "/v1/customers/c1/recommendations"
    with TestClient(create_app(settings)) as client:
        assert client.get(path).status_code == 401
        assert client.post("/v1/personalize", json=PAGE).status_code == 401
        wrong = {"X-API-Key": writer}
        assert client.get(path, headers=wrong).status_code == 403
        assert client.post("/v1/personalize", json=PAGE, headers=wrong).status_code == 403
        assert answered == []
        good = {"Authorization": f"Bearer {reader}"}
        assert client.get(path, headers=good).status_code == 200
        assert client.post("/v1/personalize", json=PAGE, headers=good).status_code == 200
        assert answered == ["c1", "c1"]
        metrics = client.get("/metrics").text
    for template, status in ((path.replace("c1", "{customer_id}"), "401"), ("/v1/personalize",
                                                                           "200")):  # fmt: skip
        assert f'route="{template}",status="{status}"' in metrics


def test_other_methods_and_paths_pass_through(clients, answered):
    fast, _ = clients
    assert fast.post("/v1/customers/c1/recommendations").status_code == 405
    assert fast.get("/v1/customers/c1/offers").status_code == 200
    assert fast.get("/v1/customers/a/b/recommendations").status_code == 404
    assert fast.get("/v1/personalize").status_code == 405
    assert answered == []


def test_parse_reads_the_last_repeated_parameter_and_splits_exclude():
    parsed = parse("c1", b"k=3&k=4&channel=app&exclude=a,,b")
    assert parsed is not None
    channel, request = parsed
    assert channel == "app" and request.k == 4 and request.exclude == frozenset({"a", "b"})
    assert parse("c1", b"k=0") is None and parse("c 1", b"") is None


def test_query_strings_are_read_as_parse_qsl_reads_them():
    rng = random.Random(5)
    for _ in range(20_000):
        query = "".join(rng.choice("ab=&k%+;1é") for _ in range(rng.randint(0, 12)))
        raw = query.encode("latin-1")
        assert _params(raw) == dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True))


def test_with_cors_configured_the_fast_path_answers_inside_cors(
    redis_client, store_config, answered
):
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url,
        cors_origins=["https://shop.example"],
    )  # fmt: skip
    app = create_app(settings)
    assert app.fast_ahead is False  # type: ignore[attr-defined]
    origin = {"Origin": "https://shop.example"}
    with TestClient(app) as client:
        response = client.get("/v1/customers/c1/recommendations", headers=origin)
        page = client.post("/v1/personalize", json=PAGE, headers=origin)
        bad = client.get("/v1/customers/c1/recommendations?k=0")
    assert answered == ["c1", "c1"]
    for ok in (response, page):
        assert ok.headers["access-control-allow-origin"] == "https://shop.example"
    assert response.json()["items"] and bad.json()["errors"][0]["pointer"] == "query/k"


def test_an_unexpected_error_is_a_counted_500_problem(clients, monkeypatch):
    fast, _ = clients

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("api.fastpath.answer", broken)
    response = fast.get("/v1/customers/c1/recommendations")
    page = fast.post("/v1/personalize", json=PAGE)
    assert response.status_code == page.status_code == 500
    assert response.headers["content-type"] == "application/problem+json"
    metrics = fast.get("/metrics").text
    for route in ("/v1/customers/{customer_id}/recommendations", "/v1/personalize"):
        assert f'touchpoint_errors_total{{route="{route}"}} 1.0' in metrics


def test_the_business_rules_dir_setting_keeps_its_old_name_for_a_release(monkeypatch, caplog):
    from api.settings import ApiSettings

    monkeypatch.delenv("TOUCHPOINT_BUSINESS_RULES_DIR", raising=False)
    monkeypatch.setenv("TOUCHPOINT_RULES_DIR", "/srv/old-rules")
    with caplog.at_level("WARNING"):
        assert str(ApiSettings().business_rules_dir) == "/srv/old-rules"
    assert "TOUCHPOINT_RULES_DIR is deprecated" in caplog.text
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", "/srv/rules")
    assert str(ApiSettings().business_rules_dir) == "/srv/rules"
