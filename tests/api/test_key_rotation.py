"""API keys that expire, and rotation with an overlap window (`touchpoint keys rotate`)."""

from __future__ import annotations

import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from jobs.cli import build_app
from jobs.keys_cmd import duration
from store.apikeys import ApiKeyError, create_key, list_keys, rotate_key
from store.keys import Keys

KEYS = Keys()
RECS = "/v1/customers/c1/recommendations"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def client_for(store_config) -> TestClient:
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, auth_cache_seconds=0
    )
    return TestClient(create_app(settings))


def test_rotation_keeps_both_keys_during_the_overlap_then_only_the_new(store_config, redis_client):
    old, old_secret = create_key(redis_client, KEYS, name="shop", scopes=["personalize:read"])
    _, before, new_secret = rotate_key(redis_client, KEYS, old.id, overlap=3600)
    with client_for(store_config) as c:
        assert c.get(RECS, headers=bearer(old_secret)).status_code == 200
        assert c.get(RECS, headers=bearer(new_secret)).status_code == 200
    rotate_key(redis_client, KEYS, before.id, overlap=0)  # the new key rotated at once
    with client_for(store_config) as c:  # a fresh key cache
        refused = c.get(RECS, headers=bearer(new_secret))
        assert refused.status_code == 401 and "expired" in refused.json()["detail"]
    records = {r.id: r for r in list_keys(redis_client, KEYS)}
    assert records[old.id].replaced_by == before.id
    assert records[before.id].name == "shop" and records[before.id].scopes == old.scopes
    assert records[before.id].expired() and not records[old.id].expired()
    with pytest.raises(ApiKeyError, match="revoked or expired"):
        rotate_key(redis_client, KEYS, before.id, overlap=60)


def test_a_key_created_to_expire_is_refused_afterwards(store_config, redis_client):
    record, secret = create_key(redis_client, KEYS, name="tmp", scopes=["admin"], expires_in=3600)
    assert record.expires_at is not None and not record.expired()
    assert record.expired(now="9999-01-01T00:00:00Z")
    with client_for(store_config) as c:
        assert c.get(RECS, headers=bearer(secret)).status_code == 200


def test_cli_rotate_prints_the_new_key_once_and_dates_the_old(store_config, redis_url,
                                                              monkeypatch):  # fmt: skip
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    cli, runner = build_app(), CliRunner()
    data = ["--data", str(store_config.data_dir), "--json"]
    create = ["keys", "create", "--name", "pos", "--scopes", "events:write", "--expires-in", "90d"]
    made = orjson.loads(runner.invoke(cli, [*create, *data]).stdout)
    result = runner.invoke(cli, ["keys", "rotate", made["id"], "--overlap", "2h", *data])
    assert result.exit_code == 0, result.output
    rotated = orjson.loads(result.stdout)
    assert rotated["replaces"] == made["id"] and rotated["key"].startswith("tp_")
    assert rotated["old_key_expires_at"] < made["expires_at"]  # 2 h, not 90 days
    bad = runner.invoke(cli, ["keys", "rotate", made["id"], "--overlap", "soon", *data])
    assert bad.exit_code == 2 and "duration" in bad.output
    with client_for(store_config) as c:
        event = {"event_id": "e1", "customer_id": "c1", "item_id": "i1", "type": "view"}
        for secret in (made["key"], rotated["key"]):
            assert c.post("/v1/events", json=event, headers=bearer(secret)).status_code == 202


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 7_776_000), ("12h", 43_200), ("30m", 1800), ("45", 45)]
)
def test_durations(text, seconds):
    assert duration(text, "--x") == seconds
