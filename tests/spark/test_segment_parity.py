"""The Spark engine's segmentation equals the pandas engine's on the same input.

Input: the generator's data (150 customers) plus edge rows the generator never writes —
an event-only customer, a customer created after `as_of`, purchases without an order id,
two NPS answers at the same instant. Both engines run once per module (Spark is slow to
start and the machine is shared).

Exact: every feature, the RFM scores (the Spark engine ranks with an exact two-pass
histogram, not approximate quantiles), lifecycle, feedback groups, the marketer's rules and
every membership but the clusters'. Clusters: MLlib's k-means and scikit-learn's settle in
different local optima, so only their shape is checked here (prospects -1, numbered by
spend; the k range is the default 2..8); money sums may differ in the last bit (summation
order), compared to 1e-9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from contracts.schema import TABLES
from contracts.tables import load_tables, with_defaults
from jobs.generate import generate
from segments.build import SegmentBuild
from segments.build import build_segments as pandas_build
from segments.definitions import parse_rules
from spark.segment import build_segments as spark_build
from spark.tables import to_spark
from tests.segments import factories as f

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)

RULES = parse_rules("""
- name: big-on-app
  rule: monetary >= 100 and channel_share.app > 0.3
- name: best-or-back
  rule: rfm_segment in ["Champions", "Loyal"] or lifecycle_stage == "reactivated"
- name: no-good-nps
  rule: not (nps_latest >= 7)
- name: happy-category-buyers
  rule: top_category != "" and csat_unhappy == false
- name: not-this-week
  rule: recency_days not in [0, 1, 2, 3, 4, 5, 6]
- name: gold
  rule: loyalty_tier == "gold" and points_balance > 0
""")
CLUSTER_COLUMNS = ("cluster", "cluster_description", "segments")


def _inputs(root: Path) -> dict[str, pd.DataFrame]:
    generate(customers=150, items=40, seed=3, out=root, events_per_customer=20)
    tables = load_tables(root)
    last = tables["events"]["timestamp"].max()
    day = pd.Timedelta(days=1)
    extra_events = f.events([
        {"customer_id": "zz-event-only", "timestamp": str(last - 40 * day), "value": 12.5},
        {"customer_id": "zz-event-only", "timestamp": str(last - 3 * day), "value": 7.0},
        {"customer_id": "zz-late", "timestamp": str(last - 10 * day), "order_id": "o-late"},
        {"customer_id": "zz-late", "timestamp": str(last - 10 * day), "order_id": "o-late"},
    ])  # fmt: skip
    late = f.customers(["zz-late"], created=[str(last + 30 * day)], tiers=["gold"], points=[5])
    first = str(tables["customers"]["customer_id"].iloc[0])
    same_time = str(last - 2 * day)
    extra_feedback = f.feedback([(first, "nps", 3, same_time), (first, "nps", 10, same_time)])
    extra = {"customers": late, "events": extra_events, "feedback": extra_feedback}
    out = {"items": tables["items"]}
    for name, rows in extra.items():
        rows = with_defaults(rows, TABLES[name])[list(tables[name].columns)]
        out[name] = pd.concat([tables[name], rows.astype(tables[name].dtypes)], ignore_index=True)
    return out


@pytest.fixture(scope="module")
def both(
    spark: SparkSession, tmp_path_factory: pytest.TempPathFactory
) -> tuple[SegmentBuild, SegmentBuild]:
    tables = _inputs(tmp_path_factory.mktemp("parity"))
    on_pandas = pandas_build(
        customers=tables["customers"],
        events=tables["events"],
        items=tables["items"],
        feedback=tables["feedback"],
        rules=RULES,
    )
    on_spark = spark_build(tables=to_spark(spark, tables), rules=RULES)
    return on_pandas, on_spark


def test_the_table_has_the_same_rows_columns_and_values(
    both: tuple[SegmentBuild, SegmentBuild],
) -> None:
    on_pandas, on_spark = both
    assert on_spark.as_of == on_pandas.as_of
    assert list(on_spark.table.columns) == list(on_pandas.table.columns)
    assert on_spark.table["customer_id"].tolist() == on_pandas.table["customer_id"].tolist()
    assert {"zz-event-only", "zz-late"} <= set(on_pandas.table["customer_id"])
    for name in on_pandas.table.columns:
        if name in CLUSTER_COLUMNS:
            continue
        expected, got = on_pandas.table[name], on_spark.table[name]
        if pd.api.types.is_float_dtype(expected.dtype):
            np.testing.assert_allclose(got.to_numpy(np.float64), expected.to_numpy(np.float64),
                                       rtol=1e-9, equal_nan=True, err_msg=name)  # fmt: skip
        else:
            assert got.astype(object).tolist() == expected.astype(object).tolist(), name


def test_every_membership_but_the_clusters_is_identical(
    both: tuple[SegmentBuild, SegmentBuild],
) -> None:
    on_pandas, on_spark = both
    expected = {n: set(ids) for n, ids in on_pandas.members.items() if not n.startswith("cluster-")}
    got = {n: set(ids) for n, ids in on_spark.members.items() if not n.startswith("cluster-")}
    assert got == expected
    assert all(expected[r.name] for r in RULES)  # every rule selects someone: a real check
    for table in (on_pandas.table, on_spark.table):
        table["_without_clusters"] = [
            ";".join(n for n in str(s).split(";") if not n.startswith("cluster-"))
            for s in table["segments"]
        ]
    assert (
        on_spark.table["_without_clusters"].tolist()
        == on_pandas.table["_without_clusters"].tolist()
    )
    keep = ~on_pandas.catalogue["name"].str.startswith("cluster-")
    pd.testing.assert_frame_equal(
        on_spark.catalogue[~on_spark.catalogue["name"].str.startswith("cluster-")].reset_index(
            drop=True
        ),
        on_pandas.catalogue[keep].reset_index(drop=True),
        check_dtype=False,
    )


def test_spark_clusters_cover_purchasers_numbered_by_spend(
    both: tuple[SegmentBuild, SegmentBuild],
) -> None:
    _, on_spark = both
    table = on_spark.table
    buyer = table["frequency"].to_numpy() > 0
    assert (table.loc[~buyer, "cluster"] == -1).all()
    assert (table.loc[buyer, "cluster"] >= 0).all()
    spend = table[buyer].groupby("cluster")["monetary"].mean()
    assert list(spend.index) == list(range(on_spark.clusters.k))
    assert spend.is_monotonic_decreasing
    sizes = dict(zip(on_spark.catalogue["name"], on_spark.catalogue["size"], strict=True))
    assert sum(sizes[f"cluster-{c}"] for c in range(on_spark.clusters.k)) == int(buyer.sum())
