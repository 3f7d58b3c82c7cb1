"""The audit trail end to end on a real Redis: recorded by the API and the CLI, read back by
`GET /v1/audit` and `touchpoint audit list`, drained by `touchpoint ingest`."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import orjson
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from jobs.cli import build_app
from store.apikeys import create_key
from store.audit import AUDIT
from store.keys import Keys
from tests.experiments.factories import definition

KEYS = Keys()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def admin(redis_client):
    record, secret = create_key(redis_client, KEYS, name="ops", scopes=["admin"])
    return record.id, bearer(secret)


def client_for(store_config, **overrides) -> TestClient:
    settings = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, **overrides
    )
    return TestClient(create_app(settings))


def trail(client: TestClient, headers, **params) -> list[dict]:
    response = client.get("/v1/audit", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["entries"]


def test_experiment_changes_are_recorded_with_who_and_outcome(store_config, admin):
    kid, headers = admin
    with client_for(store_config) as c:
        assert c.put("/v1/experiments/home", json=definition("home"), headers=headers).is_success
        refused = c.put("/v1/experiments/home", json=definition("other"), headers=headers)
        assert refused.status_code == 422
        entries = trail(c, headers)
    assert [(e["who"], e["action"], e["target"], e["outcome"]) for e in entries] == [
        (kid, "experiments.put", "home", "ok"),
        (kid, "experiments.put", "home", "refused"),
    ]
    assert "differs" in entries[1]["detail"]
    stamped = datetime.fromisoformat(entries[0]["at"])
    assert abs(stamped - datetime.now(UTC)) < timedelta(minutes=5)


def test_the_audit_route_needs_the_admin_scope_and_pages(store_config, redis_client, admin):
    _, headers = admin
    _, experimenter = create_key(redis_client, KEYS, name="ab", scopes=["experiments:admin"])
    with client_for(store_config) as c:
        for name in ("a", "b", "c"):
            c.put(f"/v1/experiments/{name}", json=definition(name), headers=bearer(experimenter))
        assert c.get("/v1/audit", headers=bearer(experimenter)).status_code == 403
        first = c.get("/v1/audit", params={"limit": 2}, headers=headers).json()
        assert [e["target"] for e in first["entries"]] == ["a", "b"]
        second = c.get("/v1/audit", params={"after": first["next"]}, headers=headers).json()
        assert [e["target"] for e in second["entries"]] == ["c"] and second["next"] is None
        later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        assert trail(c, headers, since=later) == []
        earlier = (datetime.now(UTC) - timedelta(hours=1)).replace(tzinfo=None).isoformat()
        assert len(trail(c, headers, since=earlier)) == 3  # no zone: UTC
        assert c.get("/v1/audit", params={"limit": 0}, headers=headers).status_code == 422
        assert len(trail(c, headers, since="0160-09-22T10:44:35-10:50")) == 3  # before 1970
        too_big = {"after": "99999999999999999999-0"}  # past a stream id's 64 bits
        assert c.get("/v1/audit", params=too_big, headers=headers).status_code == 422


def test_rules_reloads_are_recorded_good_and_bad(store_config, admin, tmp_path, monkeypatch):
    _, headers = admin
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "default.yaml").write_text("diversity: {max_per_category: 2}\n")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    with client_for(store_config) as c:
        watcher = c.app.parts.rules  # type: ignore[attr-defined]
        (rules / "default.yaml").write_text("diversity: {max_per_category: 3}\n")
        watcher.request_reload()
        c.get("/v1/customers/c1/recommendations", headers=headers)  # reads the rules
        (rules / "default.yaml").write_text("diversity: {max_per_category: -1}\n")
        watcher.request_reload()
        c.get("/v1/customers/c1/recommendations", headers=headers)
        deadline = time.monotonic() + 10
        while len(found := trail(c, headers)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)  # recorded by a task after the request
    assert [(e["who"], e["action"], e["outcome"]) for e in found] == [
        ("system:rules", "rules.reload", "ok"),
        ("system:rules", "rules.reload", "failed"),
    ]
    assert "previous rules stay in force" in found[1]["detail"]


def test_cli_key_changes_are_audited_listed_and_drained_once(
    store_config, redis_url, redis_client, monkeypatch
):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    cli, runner = build_app(), CliRunner()
    data = ["--data", str(store_config.data_dir)]

    def run(*args: str):
        result = runner.invoke(cli, [*args, *data])
        return result

    made = run("keys", "create", "--name", "shop", "--scopes", "personalize:read", "--json")
    kid = orjson.loads(made.stdout)["id"]
    assert made.exit_code == 0
    assert run("keys", "revoke", "00000000").exit_code == 2  # refused: recorded too
    assert run("keys", "revoke", kid).exit_code == 0
    listed = orjson.loads(run("audit", "list", "--json").stdout)
    assert [(e["action"], e["target"], e["outcome"]) for e in listed] == [
        ("keys.create", "shop", "ok"),
        ("keys.revoke", "00000000", "refused"),
        ("keys.revoke", kid, "ok"),
    ]
    assert all(e["who"].startswith("cli:") for e in listed)
    assert "tp_" not in str(listed)  # never the secret
    assert run("ingest").exit_code == 0
    partitions = list((store_config.data_dir / "audit").glob("*.parquet"))
    assert sum(pq.read_table(p).num_rows for p in partitions) == 3
    assert redis_client.xlen(KEYS.stream(AUDIT)) == 3  # drained, and still readable from Redis
    again = orjson.loads(run("audit", "list", "--json").stdout)
    assert again == listed  # each entry once, from Redis and the data directory
    assert run("ingest").exit_code == 0  # nothing new: nothing written twice
    assert sum(pq.read_table(p).num_rows for p in partitions) == 3
    assert run("audit", "list", "--since", "not-a-date").exit_code == 2
