"""`touchpoint train --engine spark` end to end: train on Spark, publish to a real Redis,
serve through the API (the registry's model, the request-time fold-in); and the refusal of
a model that cannot beat popularity, the previous version staying live."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from jobs.cli import STEP_FAILED, build_app
from jobs.modelops import registry_for
from recsys.matrix import IdMap
from recsys.models import create_model
from recsys.registry import ModelBundle
from tests.spark.planted import SHELF, planted, popular_only

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)
TRAIN = ["train", "--engine", "spark", "--json", "--spark-master", "local[2]",
         "--conf", "spark.sql.shuffle.partitions=2"]  # fmt: skip


def shelf(item_id: str) -> int:
    return int(item_id[1:]) // SHELF


def test_spark_model_is_published_and_served_with_fold_in(
    spark: SparkSession, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    group_of = planted(data)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    result = CliRunner().invoke(build_app(), [*TRAIN, "--data", str(data)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "spark"
    assert summary["validation ndcg"] > summary["popularity ndcg"] + 0.2
    registry = registry_for(data)
    assert registry.active() == summary["version"]
    saved = registry.show(summary["version"])
    assert saved["engine"] == "spark" and saved["model"] == "als"
    bundle = registry.load()
    assert bundle.model.user_factors.shape == (len(group_of), 32)
    settings = ApiSettings(data_dir=data, redis_url=redis_url)
    with TestClient(create_app(settings)) as client:
        for customer in ("c0_00", "c2_05", "c3_29"):
            body = client.get(f"/v1/customers/{customer}/recommendations",
                              params={"k": 3, "channel": "web"}).json()  # fmt: skip
            served = [item["item_id"] for item in body["items"]]
            assert len(served) == 3
            assert {shelf(i) for i in served} == {group_of[customer]}, (customer, served)
        # a customer the model never saw: their first views are folded into a vector
        views = [{"event_id": f"new{n}", "customer_id": "newcomer", "item_id": f"i{n + 16:02d}",
                  "type": "view"} for n in range(4)]  # fmt: skip
        for view in views:
            assert client.post("/v1/events", json=view).status_code == 202
        body = client.get("/v1/customers/newcomer/recommendations",
                          params={"k": 3, "channel": "web"}).json()  # fmt: skip
        fresh = [item["item_id"] for item in body["items"]]
        assert {shelf(i) for i in fresh} == {2}, fresh


def test_a_model_worse_than_popularity_is_refused_and_the_previous_stays(
    spark: SparkSession, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    popular_only(data)
    registry = registry_for(data)
    previous = create_model("popularity").fit(np.ones((2, 3), np.float32))
    bundle = ModelBundle(previous, IdMap(["a", "b"]), IdMap(["x", "y", "z"]))
    live = registry.save(bundle, activate=True)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    result = CliRunner().invoke(build_app(), [*TRAIN, "--data", str(data)])
    assert result.exit_code == STEP_FAILED, result.output
    assert "worse than popularity" in result.output
    assert registry.active() == live
    assert registry.versions() == [live]


def test_spark_train_takes_the_random_split_only(tmp_path: Path) -> None:
    planted(tmp_path, per_group=3)
    args = [*TRAIN, "--data", str(tmp_path), "--split", "recent", "--no-publish"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2, result.output
    assert "--split random only" in result.output
    assert registry_for(tmp_path).versions() == []
