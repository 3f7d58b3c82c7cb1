"""`touchpoint recommend --engine spark` against `--engine pandas` on the same model and data:
the same file (CSV byte for byte; Parquet row for row), served in several blocks, with the
data directory given as a `file://` URI and its events as ingested partitions."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from jobs.cli import build_app
from tests.spark.planted import planted

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)
SPARK = ["--engine", "spark", "--spark-master", "local[2]",
         "--conf", "spark.touchpoint.recommend.block=7"]  # fmt: skip


def invoke(args: list[str]) -> dict[str, object]:
    result = CliRunner().invoke(build_app(), [*args, "--json"])
    assert result.exit_code == 0, result.output
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A data directory with a pandas-trained model, and the campaign's customer list:
    known customers, one the model never saw, one with nothing at all."""
    root = tmp_path_factory.mktemp("recommend")
    data = root / "data"
    group_of = planted(data, per_group=6)
    invoke(["train", "--data", str(data), "--no-publish", "--budget-seconds", "5"])
    listed = root / "customers.txt"
    listed.write_text("\n".join(["customer_id", *sorted(group_of)[::-1], "nobody", "c0_00"]))
    return data, listed


def test_spark_writes_the_pandas_engines_csv_byte_for_byte(
    spark: SparkSession, trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, listed = trained
    common = ["recommend", "--customers", str(listed), "--k", "4", "--channel", "web"]
    by_pandas, by_spark = tmp_path / "pandas.csv", tmp_path / "spark.csv"
    want = invoke([*common, "--data", str(data), "--output", str(by_pandas)])
    got = invoke([*common, "--data", data.as_uri(), "--output", str(by_spark), *SPARK])
    assert got["rows"] == want["rows"] == 4 * (len(listed.read_text().split()) - 2)
    assert got["known to model"] == want["known to model"]
    assert by_spark.read_bytes() == by_pandas.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pandas.csv", "spark.csv"]


def test_partitioned_events_answer_as_the_same_events_in_one_file(
    spark: SparkSession, trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, listed = trained
    split = tmp_path / "data"
    shutil.copytree(data, split)
    events = pd.read_csv(split / "events.csv", dtype=str)
    (split / "events.csv").unlink()
    (split / "events").mkdir()
    half = len(events) // 2
    events.iloc[:half].to_parquet(split / "events" / "part-1-1.parquet", index=False)
    events.iloc[half:].to_parquet(split / "events" / "part-2-2.parquet", index=False)
    common = ["recommend", "--customers", str(listed), "--k", "3"]
    one_file, partitioned = tmp_path / "one.parquet", tmp_path / "partitioned.parquet"
    invoke([*common, "--data", str(data), "--output", str(one_file)])
    invoke([*common, "--data", str(split), "--output", str(partitioned), *SPARK])
    want = pd.read_parquet(one_file)
    assert len(want) == 3 * (len(listed.read_text().split()) - 2)
    pd.testing.assert_frame_equal(pd.read_parquet(partitioned), want)
