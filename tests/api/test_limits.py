"""Abuse limits through the API, on a real Redis: token buckets shared by two app instances
(two replicas), the failed-authentication limit, and their 429 problem answers."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.apikeys import create_key
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, publish

KEYS = Keys()
RECS = "/v1/customers/c1/recommendations"  # answered by the fast path
PROFILE = "/v1/customers/c1/profile"  # a declared FastAPI route of the same scope
EXPERIMENTS = "/v1/experiments"  # another scope
PAGE = {"customer_id": "c1", "channel": "web", "slots": [{"name": "a", "kind": "product"}]}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def replicas(redis_client, store_config):
    """Make `n` app instances ("replicas") on the one Redis, with the given settings."""
    publish(redis_client, store_config, bundle(catalogue()))
    opened: list[TestClient] = []

    def make(n: int = 2, **overrides) -> list[TestClient]:
        settings = ApiSettings(
            data_dir=store_config.data_dir, redis_url=store_config.redis_url, **overrides
        )
        for _ in range(n):
            client = TestClient(create_app(settings))
            client.__enter__()
            assert client.get("/healthz").status_code == 200  # started, warm
            opened.append(client)
        return opened[-n:]

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def assert_429(response) -> int:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    retry = int(response.headers["retry-after"])
    assert retry == body["retry_after"] >= 1
    return retry


def test_a_key_bucket_bursts_then_refills_and_two_replicas_share_it(replicas, redis_client):
    _, secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    _, other = create_key(redis_client, KEYS, name="app", scopes=["personalize:read"])
    limits = {"personalize:read": {"rate": 0.5, "burst": 3}}  # 3 at once, then one per 2 s
    a, b = replicas(key_rate_limits=limits)
    key = bearer(secret)
    # the burst, taken through both replicas and both kinds of route
    assert a.get(RECS, headers=key).status_code == 200
    assert b.get(PROFILE, headers=key).status_code == 200
    assert a.get(RECS, headers=key).status_code == 200
    retry = assert_429(b.get(RECS, headers=key))  # the shared bucket is empty
    assert retry <= 2  # a token comes every 2 s
    assert_429(a.get(PROFILE, headers=key))
    assert_429(a.post("/v1/personalize", json=PAGE, headers=key))  # the fast path's page
    assert a.get(RECS, headers=bearer(other)).status_code == 200  # another key: its own bucket
    time.sleep(retry)  # the refill
    assert b.get(RECS, headers=key).status_code == 200
    assert_429(a.get(RECS, headers=key))


def test_an_address_limit_counts_every_scope_in_its_star_bucket(replicas):
    (app,) = replicas(1, address_rate_limits={"*": {"rate": 0.01, "burst": 2}})  # API open
    assert app.get(RECS).status_code == 200
    assert app.get(EXPERIMENTS).status_code == 200
    assert_429(app.get(RECS))
    assert_429(app.get(EXPERIMENTS))
    assert app.get("/healthz").status_code == 200  # open routes are not limited


def test_no_limit_configured_takes_nothing(replicas, redis_client):
    _, secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    (app,) = replicas(1, address_rate_limits={"segments:read": {"rate": 0.01, "burst": 1}})
    for _ in range(5):
        assert app.get(RECS, headers=bearer(secret)).status_code == 200
    assert not list(redis_client.scan_iter("tp:{l:*"))


def test_failed_authentications_are_limited_per_address(replicas, redis_client):
    _, secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    wrong = bearer(secret[:-4] + "AAAA")
    a, b = replicas(auth_failure_limit={"rate": 0.01, "burst": 3})
    # counted once per request, also when the fast path hands the request on
    assert [a.get(RECS, headers=wrong).status_code for _ in range(3)] == [401, 401, 401]
    assert_429(a.get(RECS, headers=wrong))
    assert_429(a.get(RECS, headers=bearer(secret)))  # this replica refuses the address now
    assert_429(a.post("/v1/personalize", json={"customer_id": "c1"}, headers=bearer(secret)))
    assert_429(b.get(PROFILE))  # the other replica: the first failure meets the empty bucket


def test_rate_limits_must_name_known_scopes(store_config):
    with pytest.raises(ValueError, match="unknown scope 'personalize'"):
        ApiSettings(
            data_dir=store_config.data_dir,
            key_rate_limits={"personalize": {"rate": 1, "burst": 1}},
        )


def test_a_replica_refuses_a_bucket_it_saw_empty_without_asking_redis(replicas, redis_client):
    _, secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    a, b = replicas(key_rate_limits={"*": {"rate": 0.01, "burst": 1}})
    key = bearer(secret)
    assert a.get(RECS, headers=key).status_code == 200
    assert_429(a.get(RECS, headers=key))
    for bucket in redis_client.scan_iter("tp:{l:k:*"):
        redis_client.delete(bucket)  # as if it had refilled: only Redis knows
    assert_429(a.get(RECS, headers=key))  # a remembers it empty until its Retry-After
    assert_429(a.get(PROFILE, headers=key))
    assert b.get(RECS, headers=key).status_code == 200  # b asks Redis


def test_a_refused_answer_writes_nothing_for_the_customer(replicas, redis_client):
    _, secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    (app,) = replicas(1, key_rate_limits={"*": {"rate": 0.01, "burst": 1}})

    def customer_state() -> dict[bytes, bytes | None]:
        app.get("/healthz")  # another turn of the app's loop: post-answer writes are sent
        time.sleep(0.2)
        return {k: redis_client.dump(k) for k in redis_client.scan_iter("tp:*c:{c1}*")}

    assert app.get(RECS, headers=bearer(secret)).status_code == 200
    before = customer_state()
    assert before  # the answer counted its impressions
    assert_429(app.get(RECS, headers=bearer(secret)))  # refused after its read, by Redis
    assert customer_state() == before
