"""Publishing from Spark executors (`--engine spark`): the same keys and the same answers as
the pandas engine's publication; a failed partition switches nothing; `touchpoint run
--engine spark` end to end, and its refusal of a model worse than popularity.

The model is one ALS fitted on the driver and published twice, once by each engine, so any
difference is the publishing's. Real Redis (the suite's server, or its cluster with
`TOUCHPOINT_TEST_REDIS=cluster`), real Spark (the shared local session, two partitions).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.compute as pc
import pytest
import redis
from fastapi.testclient import TestClient
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from contracts.errors import Conflict
from contracts.tables import load_tables
from jobs.cli import STEP_FAILED, build_app
from jobs.common import business_rules
from jobs.generate import generate
from jobs.pipeline import publish_trained
from jobs.publish import Trained, prepare
from jobs.segmentation import run_segmentation
from jobs.spark_engine import SparkRun, spark_publish
from jobs.spark_publish import Shared, SparkPublishFailed, customer_table, write_batch
from recsys.matrix import build_interactions
from recsys.models import create_model
from store.config import StoreConfig
from store.keys import Keys
from store.serving import ARTIFACT
from store.versions import Release, Versions
from tests.spark.planted import SHELF, planted, popular_only

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)
RUN = SparkRun("local[2]", ("spark.sql.shuffle.partitions=2",))
SAMPLE = 12  # customers asked through the API


def demo(data: Path) -> tuple[dict[str, pd.DataFrame], Trained, pd.DataFrame]:
    """Generated data (kinds, feedback, consents), its pandas segments and a small ALS."""
    generate(customers=80, items=40, seed=8, out=data, events_per_customer=15)
    tables = load_tables(data)
    segments = run_segmentation(tables=tables, publish=False)[0].table
    inter = build_interactions(tables["events"])
    model = create_model("als", factors=8, iterations=4).fit(inter.matrix)
    return tables, Trained(model, inter, "als", "test-als"), segments


def version_data(client: redis.Redis, version: str) -> dict[bytes, bytes | dict[bytes, bytes]]:
    """Every key of a serving version (the version cut out of its name) with its value."""
    out: dict[bytes, bytes | dict[bytes, bytes]] = {}
    for key in client.scan_iter(Keys().data_pattern(ARTIFACT, version), count=1000):
        name = key.replace(version.encode(), b"V")
        out[name] = client.hgetall(key) if name.endswith(b":popular") else client.get(key)
    return out


def answers(data: Path, redis_url: str, customers: list[str]) -> dict[str, Any]:
    """What the API answers each customer (recommendations on two channels, the profile),
    the serving version it names set apart under `version`."""
    out: dict[str, Any] = {}
    with TestClient(create_app(ApiSettings(data_dir=data, redis_url=redis_url))) as client:
        for customer in customers:
            for channel in ("web", "email"):
                body = client.get(f"/v1/customers/{customer}/recommendations",
                                  params={"k": 6, "channel": channel}).json()  # fmt: skip
                out[f"{customer} {channel}"] = [(i["item_id"], i.get("reason")) for i in
                                                body["items"]]  # fmt: skip
            profile = client.get(f"/v1/customers/{customer}/profile").json()
            out.setdefault("version", set()).add(profile.pop("model_version"))
            out[f"{customer} profile"] = profile
    return out


def test_spark_publication_equals_the_pandas_one_key_by_key_and_answer_by_answer(
    spark: SparkSession, tmp_path: Path, redis_url: str, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    tables, trained, segments = demo(data)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    book = business_rules()
    by_pandas = publish_trained(data, tables, trained, segments, book)
    customers = sorted(trained.interactions.customers.to_array().astype(str))[:SAMPLE]
    served_by_pandas = answers(data, redis_url, customers)
    by_spark = spark_publish(data, tables, trained, segments, book, run=RUN)
    versions = Versions(redis_client, StoreConfig(redis_url=redis_url))
    assert versions.live(ARTIFACT) == by_spark != by_pandas
    meta = versions.meta(ARTIFACT, by_spark)
    assert meta is not None and meta["engine"] == "spark"
    from_pandas, from_spark = (version_data(redis_client, v) for v in (by_pandas, by_spark))
    per_customer = [k for k in from_pandas if b":c:{" in k]
    assert len(per_customer) > 3 * len(customers)  # recs, hist, consumed, profile, why
    assert from_spark.keys() == from_pandas.keys()
    assert [k for k in from_pandas if from_spark[k] != from_pandas[k]] == []
    assert meta["keys_written"] == versions.meta(ARTIFACT, by_pandas)["keys_written"]  # type: ignore[index]
    served_by_spark = answers(data, redis_url, customers)
    assert (served_by_pandas.pop("version"), served_by_spark.pop("version")) == (
        {by_pandas},
        {by_spark},
    )
    assert served_by_spark == served_by_pandas
    assert any(served_by_pandas[f"{c} web"] for c in customers)


def test_a_failed_partition_switches_nothing_and_leaves_no_key_without_ttl(
    spark: SparkSession, tmp_path: Path, redis_url: str, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    tables, trained, segments = demo(data)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    book = business_rules()
    live = publish_trained(data, tables, trained, segments, book)
    with pytest.raises(SparkPublishFailed) as failed:
        spark_publish(data, tables, trained, segments, book, run=RUN, fail_partition=1)
    message = str(failed.value)
    assert "partition 1 failed on purpose" in message, message
    assert f"serving version {live} stays live" in message, message
    assert isinstance(failed.value, Conflict)  # the CLI's exit code 1 (a step refused)
    versions = Versions(redis_client, StoreConfig(redis_url=redis_url))
    assert versions.live(ARTIFACT) == live
    assert [m["version"] for m in versions.history(ARTIFACT)] == [live]
    keys = Keys()
    metas = [k.decode() for k in redis_client.scan_iter(keys.meta(ARTIFACT, "*"))]
    broken = [m.rsplit(":", 1)[1] for m in metas if not m.endswith(live)]
    assert len(broken) == 1
    assert versions.meta(ARTIFACT, broken[0])["status"] == "failed"  # type: ignore[index]
    left = list(redis_client.scan_iter(keys.data_pattern(ARTIFACT, broken[0])))
    assert [k for k in left if redis_client.ttl(k) < 0] == []  # deleted, or expiring


def test_run_on_spark_segments_trains_and_publishes_from_the_executors(
    spark: SparkSession, tmp_path: Path, redis_url: str, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    group_of = planted(data)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    args = ["run", "--engine", "spark", "--spark-master", "local[2]", "--conf",
            "spark.sql.shuffle.partitions=2", "--json", "--data", str(data)]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["engine"] == "spark"
    assert summary["segmented customers"] == len(group_of)
    meta = Versions(redis_client).meta(ARTIFACT, summary["serving version"])
    assert meta is not None and meta["engine"] == "spark"
    with TestClient(create_app(ApiSettings(data_dir=data, redis_url=redis_url))) as client:
        health = client.get("/readyz").json()
        assert summary["serving version"] in json.dumps(health), health
        for customer in ("c0_00", "c3_29"):
            body = client.get(f"/v1/customers/{customer}/recommendations",
                              params={"k": 3, "channel": "web"}).json()  # fmt: skip
            shelves = {int(i["item_id"][1:]) // SHELF for i in body["items"]}
            assert shelves == {group_of[customer]}, (customer, body["items"])
            profile = client.get(f"/v1/customers/{customer}/profile").json()
            assert profile["segments"]["rfm"] and profile["segments"]["lifecycle"], profile


def test_run_on_spark_refuses_a_model_worse_than_popularity_and_keeps_the_live_version(
    spark: SparkSession, tmp_path: Path, redis_url: str, redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    data = tmp_path / "data"
    popular_only(data)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    tables = load_tables(data)
    inter = build_interactions(tables["events"])
    previous = Trained(create_model("popularity").fit(inter.matrix), inter, "popularity", "p1")
    live = publish_trained(data, tables, previous, None, business_rules())
    args = ["run", "--engine", "spark", "--spark-master", "local[2]", "--data", str(data)]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == STEP_FAILED, result.output
    assert "model rejected, previous version stays live" in result.output
    assert Versions(redis_client).live(ARTIFACT) == live


def test_a_batch_of_customers_with_a_profile_only_writes_their_profiles(
    tmp_path: Path, redis_client: redis.Redis
) -> None:
    """The model's customers come first in the rows, so a partition's last batches may hold
    customers the model never saw (no events): no recs for them, their profiles written."""
    group_of = planted(tmp_path, per_group=3)
    tables = load_tables(tmp_path)
    inter = build_interactions(tables["events"])
    trained = Trained(create_model("als", factors=4, iterations=2).fit(inter.matrix), inter,
                      "als", "t")  # fmt: skip
    prepared = prepare(tables=tables, trained=trained, segments=None,
                       rules=business_rules().resolve(None))  # fmt: skip
    profiles = {c: orjson.dumps({"customer_id": c}) for c in [*group_of, "new-1", "new-2"]}
    model = copy.copy(trained.model)
    model.user_factors = np.zeros((0, 4), np.float32)  # type: ignore[attr-defined]
    shared = Shared(model, True, prepared.to_catalogue, prepared.shared.similar,
                    prepared.categories, prepared.rules, prepared.model_records)  # fmt: skip
    table = customer_table(trained, prepared, profiles, slim=True)
    newcomers = table.filter(pc.equal(table["row"], -1)).to_batches()[0]
    release = Release(redis_client, Keys(), ARTIFACT, "v1", 3600)
    assert write_batch(release, newcomers, shared) == (0, 2)
    release.flush()
    assert orjson.loads(redis_client.get(release.customer_key("new-2", "profile"))) == {
        "customer_id": "new-2"
    }
    assert redis_client.get(release.customer_key("new-2", "recs")) is None
    assert 0 < redis_client.ttl(release.customer_key("new-1", "profile")) <= 3600
