"""The popular lists summed per partition on Spark (`spark.popular`) against the pandas
engine's `popular_lists` over the whole table: the same lists, items and scores, with the
events spread over several partitions and RFM segments given."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from contracts.tables import load_tables
from jobs.generate import generate
from jobs.published_tables import popular_lists
from spark.popular import popular_on_spark
from spark.tables import to_spark

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)
READS = ["customer_id", "item_id", "type", "channel", "timestamp", "value"]


def test_lists_summed_by_partition_equal_the_whole_tables(
    spark: SparkSession, tmp_path: Path
) -> None:
    generate(customers=300, items=60, seed=11, out=tmp_path, events_per_customer=15)
    tables = load_tables(tmp_path)
    customers = tables["customers"]["customer_id"].astype(str)
    rng = np.random.default_rng(2)
    segments = pd.DataFrame({
        "customer_id": customers,
        "rfm_segment": rng.choice(["Champions", "At Risk", ""], len(customers)),
    })  # fmt: skip
    expected = popular_lists(tables["events"], tables["items"], segments)
    events = to_spark(spark, {"events": tables["events"]})["events"].select(*READS)
    got = popular_on_spark(events.repartition(3), tables["items"], segments)
    assert events.repartition(3).rdd.getNumPartitions() == 3
    assert sorted(got) == sorted(expected)
    assert any(name.startswith("segment:Champions") for name in got)
    for name, (items, scores) in expected.items():
        assert len(items) > 0 or name.startswith("kind:"), name
        assert got[name][0].tolist() == items.tolist(), name
        assert np.allclose(got[name][1], scores, rtol=1e-6), name


def test_no_events_give_the_empty_tables_lists(spark: SparkSession, tmp_path: Path) -> None:
    generate(customers=20, items=10, seed=3, out=tmp_path, events_per_customer=3)
    tables = load_tables(tmp_path)
    none = tables["events"].iloc[:0]
    expected = popular_lists(none, tables["items"], None)
    events = to_spark(spark, {"events": tables["events"]})["events"].select(*READS).limit(0)
    got = popular_on_spark(events, tables["items"], None)
    assert sorted(got) == sorted(expected)
    assert all(len(items) == 0 for items, _ in got.values())
