"""`touchpoint segment --engine spark` end to end: load, segment on Spark, publish to a real
Redis; what goes live equals the pandas engine's memberships (clusters aside, see
test_segment_parity). Bad engine options exit 2 before any Spark starts."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from contracts.tables import load_tables
from jobs.cli import build_app
from jobs.generate import generate
from segments.build import build_segments
from store.config import StoreConfig
from store.segments import read_live_members

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)


def test_spark_segment_publishes_the_pandas_engines_memberships(
    spark: SparkSession, tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = tmp_path / "data"
    generate(customers=8, items=6, seed=5, out=data, events_per_customer=12)
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    args = ["segment", "--data", str(data), "--engine", "spark", "--json",
            "--conf", "spark.sql.shuffle.partitions=2"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 0, result.output
    assert '"engine":"spark"' in result.stdout
    config = StoreConfig(data_dir=data, redis_url=redis_url)
    with redis.Redis.from_url(redis_url) as client:
        version, live = read_live_members(client, config)
    assert version is not None
    tables = load_tables(data)
    expected = build_segments(customers=tables["customers"], events=tables["events"],
                              items=tables["items"], feedback=tables["feedback"])  # fmt: skip
    want = {n: sorted(ids) for n, ids in expected.members.items() if not n.startswith("cluster-")}
    got = {n: sorted(ids) for n, ids in live.items() if not n.startswith("cluster-")}
    assert got == want
    assert any(want.values())


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--engine", "flink"], "--engine must be one of"),
        (["--engine", "spark", "--conf", "x"], "key=value"),
    ],
)
def test_bad_engine_options_exit_2(tmp_path: Path, extra: list[str], says: str) -> None:
    generate(customers=3, items=3, seed=1, out=tmp_path, events_per_customer=2)
    result = CliRunner().invoke(
        build_app(), ["segment", "--data", str(tmp_path), "--no-publish", *extra]
    )
    assert result.exit_code == 2, result.output
    assert says in result.output
