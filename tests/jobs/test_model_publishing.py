"""The model the registry calls active is the model the API serves: train, activate and
rollback all publish a serving version (real Redis)."""

from __future__ import annotations

import orjson
import pytest
from typer.testing import CliRunner

from jobs.cli import build_app
from jobs.generate import generate
from store.client import sync_client
from store.config import StoreConfig
from store.versions import Versions


@pytest.fixture
def data(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    out = tmp_path / "data"
    generate(customers=300, items=60, seed=3, out=out, events_per_customer=20)
    return out


def invoke(*args: str) -> dict:
    result = CliRunner().invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout.strip().splitlines()[-1])


def live_model(redis_url: str) -> str:
    client = sync_client(redis_url)
    versions = Versions(client, StoreConfig(redis_url=redis_url))
    live = versions.live("serving")
    assert live is not None
    meta = versions.meta("serving", live)
    client.close()
    assert meta is not None
    return str(meta["model_version"])


def test_train_publishes_and_rollback_serves_the_previous_model(data, redis_url):
    first = invoke("train", "--data", str(data), "--budget-seconds", "5")
    assert live_model(redis_url) == first["version"]
    second = invoke("train", "--data", str(data), "--budget-seconds", "5")
    assert live_model(redis_url) == second["version"] != first["version"]
    rolled = invoke("models", "rollback", "--data", str(data))
    assert rolled["active"] == first["version"]
    assert live_model(redis_url) == first["version"]
    invoke("models", "activate", second["version"], "--data", str(data))
    assert live_model(redis_url) == second["version"]


def test_train_without_publish_leaves_serving_alone(data, redis_url):
    invoke("train", "--data", str(data), "--budget-seconds", "5")
    before = live_model(redis_url)
    invoke("train", "--data", str(data), "--budget-seconds", "5", "--no-publish")
    assert live_model(redis_url) == before
