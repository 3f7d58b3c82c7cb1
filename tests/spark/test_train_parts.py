"""The pieces of `train --engine spark` against the single-machine code they stand in for:
the confidence matrix (`recsys.matrix`, through `jobs.modelops.prepare`), the split protocol
(`recsys.split.random_split`) and NDCG@k (`recsys.evaluation.ranking_metrics` over
`recsys.serving.top_k_rows`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pyspark.sql import SparkSession

from contracts.tables import load_tables
from jobs.generate import generate
from jobs.modelops import prepare
from recsys.evaluation import ranking_metrics
from recsys.matrix import product_weights
from recsys.serving import top_k_rows
from spark.interactions import build_interactions
from spark.tables import to_spark
from spark.validation import ndcg_at_k, random_split

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)


def _with_ratings_and_dismissals(root: Path) -> dict[str, pd.DataFrame]:
    generate(customers=40, items=25, seed=4, out=root, events_per_customer=12)
    tables = load_tables(root)
    events = tables["events"].copy()
    kinds = events["type"].astype(str).to_numpy().copy()
    rng = np.random.default_rng(0)
    pick = rng.random(len(events))
    kinds[pick < 0.15] = "rate"
    kinds[(pick >= 0.15) & (pick < 0.25)] = "dismiss"
    events["type"] = pd.Categorical(kinds, categories=events["type"].cat.categories)
    events["value"] = np.where(kinds == "rate", rng.integers(1, 6, len(events)), events["value"])
    events.loc[events.index[:3], "item_id"] = "not-in-catalogue"
    return {**tables, "events": events}


@pytest.mark.parametrize("ratings", ["value", "liked"])
def test_confidences_equal_the_pandas_engines(
    spark: SparkSession, tmp_path: Path, ratings: str
) -> None:
    tables = _with_ratings_and_dismissals(tmp_path)
    expected = prepare(tables, ratings=ratings).interactions
    on_spark = to_spark(spark, {"events": tables["events"], "items": tables["items"]})
    got = build_interactions(on_spark["events"], on_spark["items"], product_weights(ratings))
    got_matrix = got.to_driver()
    assert got.customers == expected.customers
    assert got.items == expected.items
    assert got_matrix.matrix.nnz == expected.matrix.nnz > 0
    assert np.array_equal(got_matrix.matrix.indptr, expected.matrix.indptr)
    assert np.array_equal(got_matrix.matrix.indices, expected.matrix.indices)
    assert np.allclose(got_matrix.matrix.data, expected.matrix.data, rtol=1e-6)


def test_split_holds_out_rounded_shares_of_each_customers_items(spark: SparkSession) -> None:
    counts = {0: 1, 1: 2, 2: 3, 3: 5, 4: 7, 5: 10, 6: 12}  # items per customer
    rows = [(u, j, 1.0) for u, n in counts.items() for j in range(n)]
    pairs = spark.createDataFrame(rows, "user int, item int, conf double")
    train, test = random_split(pairs, test_fraction=0.25, seed=3)
    held = test.groupBy("user").count().toPandas().set_index("user")["count"].to_dict()
    want = {u: round(0.25 * n) for u, n in counts.items() if n >= 2 and round(0.25 * n)}
    assert held == want  # Python's round: 0.5 -> 0, 2.5 -> 2, 1.75 -> 2
    kept = {(r.user, r.item) for r in train.collect()}
    out = {(r.user, r.item) for r in test.collect()}
    assert not kept & out and kept | out == {(u, j) for u, j, _ in rows}
    again = {(r.user, r.item) for r in random_split(pairs, test_fraction=0.25, seed=3)[1].collect()}
    other = {(r.user, r.item) for r in random_split(pairs, test_fraction=0.25, seed=4)[1].collect()}
    assert again == out and other != out


def test_ndcg_equals_the_single_machine_metric(spark: SparkSession) -> None:
    rng = np.random.default_rng(5)
    n_users, n_items, k = 30, 20, 5
    scores = rng.integers(0, 6, (n_users, n_items)).astype(np.float32)  # many ties
    train = sp.csr_matrix(rng.random((n_users, n_items)) < 0.3, dtype=np.float32)
    test = sp.csr_matrix((rng.random((n_users, n_items)) < 0.2) & (train.toarray() == 0),
                         dtype=np.float32)  # fmt: skip
    masked = scores.copy()
    masked[train.toarray() > 0] = -np.inf
    top, _ = top_k_rows(masked, k)
    expected = ranking_metrics(top, test, k)["ndcg"]
    frame = spark.createDataFrame(
        [(u, j, float(scores[u, j])) for u in range(n_users) for j in range(n_items)
         if test[u].nnz],
        "user int, item int, score double",
    )  # fmt: skip
    coo_train, coo_test = train.tocoo(), test.tocoo()
    train_df = spark.createDataFrame(
        list(zip(coo_train.row.tolist(), coo_train.col.tolist(), strict=True)), "user int, item int"
    )
    test_df = spark.createDataFrame(
        list(zip(coo_test.row.tolist(), coo_test.col.tolist(), strict=True)), "user int, item int"
    )
    got = ndcg_at_k(frame, train_df, test_df, k)
    assert got == pytest.approx(expected, rel=1e-9)
    assert 0.0 < got < 1.0
