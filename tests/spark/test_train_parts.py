"""The pieces of `train --engine spark` against the single-machine code they stand in for:
the confidence matrix (`recsys.matrix`, through `jobs.modelops.prepare`), the split protocol
(`recsys.split.random_split`) and NDCG@k / recall@k (`recsys.evaluation.ranking_metrics` over
`recsys.serving.top_k_rows`, run on the driver over the whole matrix)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from pyspark.sql import DataFrame, SparkSession

from contracts.tables import load_tables
from jobs.generate import generate
from jobs.modelops import prepare
from recsys.evaluation import ranking_metrics
from recsys.matrix import product_weights
from recsys.serving import top_k_rows
from spark import validation
from spark.interactions import build_interactions
from spark.tables import to_spark
from spark.validation import block_sums, random_split, ranking_at_k

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


def _planted(seed: int) -> tuple[np.ndarray, np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """Integer factors (many tied scores), a training and a disjoint test matrix."""
    rng = np.random.default_rng(seed)
    n_users, n_items, rank = 30, 20, 3
    users = rng.integers(0, 3, (n_users, rank)).astype(np.float32)
    items = rng.integers(0, 3, (n_items, rank)).astype(np.float32)
    train = sp.csr_matrix(rng.random((n_users, n_items)) < 0.3, dtype=np.float32)
    test = sp.csr_matrix((rng.random((n_users, n_items)) < 0.2) & (train.toarray() == 0),
                         dtype=np.float32)  # fmt: skip
    return users, items, train, test


def _expected(scores: np.ndarray, train: sp.csr_matrix, test: sp.csr_matrix, k: int) -> dict:
    masked = scores.astype(np.float64).copy()
    masked[train.toarray() > 0] = -np.inf
    masked[np.isnan(masked)] = -np.inf
    top, _ = top_k_rows(masked, k)
    keep = np.diff(test.indptr) > 0
    return ranking_metrics(top[keep], test[keep], k)


def _pairs(spark: SparkSession, matrix: sp.csr_matrix) -> DataFrame:
    coo = matrix.tocoo()
    rows = list(zip(coo.row.tolist(), coo.col.tolist(), strict=True))
    return spark.createDataFrame(rows, "user int, item int")


def test_ranking_equals_the_single_machine_metric(spark: SparkSession) -> None:
    users, items, train, test = _planted(5)
    items[3] = np.nan  # an item without factors is never ranked
    k = 5
    expected = _expected(users @ items.T, train, test, k)
    vectors = spark.createDataFrame(
        [(u, users[u].tolist()) for u in range(len(users))], "id int, features array<float>"
    )
    got = ranking_at_k(_pairs(spark, train), _pairs(spark, test), k, items, vectors)
    assert got["ndcg"] == pytest.approx(expected["ndcg"], rel=1e-9)
    assert got["recall"] == pytest.approx(expected["recall"], rel=1e-9)
    assert 0.0 < got["ndcg"] < 1.0


def test_ranking_one_score_per_item_for_everyone(spark: SparkSession) -> None:
    _, _, train, test = _planted(6)
    popular = np.asarray(train.sum(axis=0)).ravel().astype(np.float32)
    popular[popular == 0] = np.nan
    k = 4
    expected = _expected(np.tile(popular, (train.shape[0], 1)), train, test, k)
    got = ranking_at_k(_pairs(spark, train), _pairs(spark, test), k, popular)
    assert got["ndcg"] == pytest.approx(expected["ndcg"], rel=1e-9)
    assert got["recall"] == pytest.approx(expected["recall"], rel=1e-9)


def test_ranking_in_slices_equals_ranking_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    users, items, train, test = _planted(7)
    frame = pd.DataFrame({
        "seen": [train[u].indices.tolist() or None for u in range(train.shape[0])],
        "held": [test[u].indices.tolist() for u in range(test.shape[0])],
        "uf": [users[u] if u % 7 else None for u in range(len(users))],  # some without factors
    })  # fmt: skip
    frame = frame[frame["held"].map(len) > 0].reset_index(drop=True)
    whole = block_sums(frame, items, 5)
    monkeypatch.setattr(validation, "CELLS", 3 * items.shape[0])  # three customers per slice
    sliced = block_sums(frame, items, 5)
    assert int(sliced["users"][0]) == int(whole["users"][0]) == len(frame)
    assert np.allclose(sliced[["ndcg", "recall"]], whole[["ndcg", "recall"]], rtol=1e-12)
