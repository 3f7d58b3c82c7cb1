"""Redis goes away mid-flight: degraded popular answers, readiness 503, never a 500, recovery."""

from __future__ import annotations

import time

from tests.api.personal_factories import bundle, catalogue, make_client, publish, rules_dir

__all__ = ["rules_dir"]


def wait_ready(client, expected: int, seconds: float = 15.0) -> int:
    deadline = time.monotonic() + seconds
    status = client.get("/readyz").status_code
    while status != expected and time.monotonic() < deadline:
        time.sleep(0.1)
        status = client.get("/readyz").status_code
    return status


def test_redis_outage_degrades_then_recovers_by_itself(
    redis_server, redis_client, store_config, rules_dir
):
    publish(redis_client, store_config, bundle(catalogue()))
    for client in make_client(store_config, refresh_seconds=0.1):
        assert client.get("/v1/customers/c1/recommendations").json()["degraded"] is False
        redis_server.stop()
        try:
            for path in ("recommendations", "offers", "content", "rewards"):
                response = client.get(f"/v1/customers/c1/{path}", params={"k": 3})
                assert response.status_code == 200, path
                body = response.json()
                assert body["degraded"] is True and body["strategy"] == "degraded_popular"
            # products come from the last-known popular lists held in memory
            assert len(client.get("/v1/customers/c1/recommendations").json()["items"]) == 10
            piece = client.post(
                "/v1/personalize", json={"customer_id": "c1", "slots": [{"name": "a", "k": 2}]}
            )
            assert piece.status_code == 200 and len(piece.json()["slots"][0]["items"]) == 2
            assert client.get("/v1/items/p1/similar").status_code == 200
            assert client.get("/v1/customers/c1/profile").status_code == 503
            assert client.get("/readyz").status_code == 503
        finally:
            redis_server.start()
        assert wait_ready(client, 200) == 200
        body = client.get("/v1/customers/c1/recommendations").json()
        assert body["degraded"] is False
