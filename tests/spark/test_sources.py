"""Spark's own readers (`spark.sources`): a `file://` URI or a plain path, CSV and a
partitioned Parquet dataset as `touchpoint ingest` writes it, read to the same canonical
tables, in the same order, as the pandas engine's loader; bad rows named as it names them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pyspark.sql import SparkSession
from typer.testing import CliRunner

from contracts.errors import DataError
from contracts.schema import EVENTS
from contracts.tables import load_tables
from jobs.cli import build_app
from jobs.generate import generate
from jobs.ingest import to_arrow
from spark.location import data_uri, local_dir
from spark.sources import spark_tables
from spark.tables import ROW, to_spark

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)


@pytest.fixture
def small_splits(spark: SparkSession) -> Iterator[None]:
    """Files read in many splits, so row numbering across splits is exercised."""
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    yield
    spark.conf.unset("spark.sql.files.maxPartitionBytes")
    spark.conf.unset("spark.sql.files.openCostInBytes")


def mixed_directory(root: Path) -> None:
    """CSV base tables, and events split: half in events.csv, the rest (with one event
    re-sent) in two ingest partitions; an empty feedback dataset directory."""
    source = root / "source"
    generate(customers=20, items=8, seed=3, out=source, events_per_customer=8)
    data = root / "data"
    data.mkdir()
    for name in ("customers", "items", "feedback"):
        pd.read_parquet(source / f"{name}.parquet").to_csv(data / f"{name}.csv", index=False)
    events = pd.read_parquet(source / "events.parquet")
    half = len(events) // 2
    events.iloc[:half].to_csv(data / "events.csv", index=False)
    rest = events.iloc[half:].to_dict("records")
    (data / "events").mkdir()
    (data / "feedback").mkdir()  # ingest made it, nothing drained yet: no source
    first = events.iloc[:1].to_dict("records")
    parts = {
        "part-1-2": rest[: len(rest) // 2] + rest[:1],
        "part-3-4": rest[len(rest) // 2 :] + first,
    }
    for name, chunk in parts.items():
        records = [{k: (None if pd.isna(v) else v) for k, v in r.items()} for r in chunk]
        for r in records:
            r["timestamp"] = pd.Timestamp(r["timestamp"]).isoformat()
        pq.write_table(to_arrow(EVENTS, records), data / "events" / f"{name}.parquet")


def test_csv_and_ingested_partitions_read_as_the_pandas_loader_reads_them(
    spark: SparkSession, tmp_path: Path, small_splits: None
) -> None:
    mixed_directory(tmp_path)
    data = tmp_path / "data"
    got = spark_tables(spark, data_uri(data))
    want = to_spark(spark, load_tables(data))
    for name in ("customers", "items", "events", "feedback"):
        assert got[name].schema.simpleString() == want[name].schema.simpleString(), name
        ours = got[name].toPandas().sort_values(ROW).reset_index(drop=True)
        theirs = want[name].toPandas().sort_values(ROW).reset_index(drop=True)
        pd.testing.assert_frame_equal(ours.drop(columns=ROW), theirs.drop(columns=ROW))
    events = got["events"].toPandas()
    assert events["event_id"].is_unique  # the re-sent events kept once, the first copy
    assert len(events) == len(pd.read_parquet(tmp_path / "source" / "events.parquet"))


def test_a_plain_path_and_a_file_uri_name_the_same_directory(tmp_path: Path) -> None:
    assert data_uri(tmp_path) == tmp_path.resolve().as_uri()
    assert data_uri(f"file://{tmp_path}/") == f"file://{tmp_path}"
    assert data_uri("s3a://bucket/touchpoint") == "s3a://bucket/touchpoint"
    assert local_dir(data_uri(tmp_path)) == tmp_path.resolve()
    assert local_dir(str(tmp_path)) == tmp_path
    assert local_dir("hdfs://namenode:8020/touchpoint") is None


def bad_csv(data: Path) -> None:
    data.mkdir()
    pd.DataFrame({"item_id": ["i1", "i2"], "kind": ["product", "offer"]}).to_csv(
        data / "items.csv", index=False
    )
    rows = [("e1", "c1", "i1", "view", "2026-01-01T00:00:00Z"),
            ("e2", "c1", "i2", "purchase", "2026-01-02T00:00:00Z"),
            ("e3", "c2", "i1", "teleport", "2026-01-03T00:00:00Z"),
            ("e4", "c2", "i2", "view", "yesterday")]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["event_id", "customer_id", "item_id", "type", "timestamp"])
    frame.to_csv(data / "events.csv", index=False)


def test_a_bad_row_is_named_by_file_row_and_column_as_the_pandas_loader_names_it(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    bad_csv(data)
    with pytest.raises(DataError) as pandas_error:
        load_tables(data)
    with pytest.raises(DataError) as spark_error:
        spark_tables(spark, data)
    assert (spark_error.value.row, spark_error.value.column) == (3, "type")
    assert (pandas_error.value.row, pandas_error.value.column) == (3, "type")
    assert spark_error.value.file.endswith("events.csv")
    assert "unknown value 'teleport'" in spark_error.value.reason


def test_a_partition_with_a_bad_timestamp_or_a_missing_column_is_refused(
    spark: SparkSession, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    bad_csv(data)
    frame = pd.read_csv(data / "events.csv")
    frame.iloc[:2].to_csv(data / "events.csv", index=False)
    (data / "events").mkdir()
    frame.iloc[3:].to_parquet(data / "events" / "part-9-9.parquet")
    with pytest.raises(DataError) as error:
        spark_tables(spark, f"file://{data}")
    assert error.value.file.endswith("events/part-9-9.parquet")
    assert (error.value.row, error.value.column) == (1, "timestamp")
    assert "unparseable timestamp 'yesterday'" in error.value.reason
    frame.iloc[3:].drop(columns="type").to_parquet(data / "events" / "part-9-9.parquet")
    with pytest.raises(DataError, match="required column is missing") as error:
        spark_tables(spark, data)
    assert error.value.column == "type"


def test_remote_data_needs_a_local_dir_and_s3a_names_what_it_lacks(spark: SparkSession) -> None:
    runner, app = CliRunner(), build_app()
    train = ["train", "--engine", "spark", "--data", "hdfs://namenode:8020/touchpoint"]
    result = runner.invoke(app, train)
    assert result.exit_code == 2, result.output
    assert "--local-dir" in result.output
    segment = ["segment", "--engine", "spark", "--no-publish", "--data", "s3a://bucket/tp"]
    result = runner.invoke(app, segment)
    assert result.exit_code == 2, result.output
    assert "hadoop-aws" in result.output
