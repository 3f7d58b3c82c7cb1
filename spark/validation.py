"""The validation split and NDCG@k on Spark, as `recsys.split` and `recsys.evaluation` do them.

Split: the pandas engine's default (`recsys.split.random_split`): per customer with at least
two items, round(test_fraction * n) of them (half to even, as Python's `round`) go to test,
chosen at random — here by a seeded hash of (customer, item), so the choice does not depend
on how the data is partitioned. The same protocol, not the same draw: numpy's generator
cannot be replayed on executors.

NDCG@k and recall@k: binary relevance, every item the model scores ranked for each
validation customer (a full ranking, not a sample), the customer's training items left out,
equal scores listing the lower item index first, averaged over customers with at least one
test item. Customers are ranked in blocks on the executors by the single-machine code itself
(`recsys.serving.top_k_rows`, `recsys.evaluation.ranking_metrics`) against the broadcast item
factors: a (customer x item) cross join sorted per customer cost minutes at 100k customers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from recsys.evaluation import ranking_metrics
from recsys.serving import top_k_rows
from spark.interactions import ITEM, USER

CELLS = 1 << 24  # scores per slice of customers ranked at once
MIN_ITEMS = 2  # customers with fewer stay whole in training (random_split's min_items)


def random_split(
    pairs: DataFrame, *, test_fraction: float, seed: int
) -> tuple[DataFrame, DataFrame]:
    """(train pairs with their columns, test pairs (user, item)) of `pairs`."""
    by_user = Window.partitionBy(USER)
    drawn = Window.partitionBy(USER).orderBy(F.xxhash64(F.lit(seed), USER, ITEM), ITEM)
    marked = (
        pairs.withColumn("_n", F.count(F.lit(1)).over(by_user))
        .withColumn("_draw", F.row_number().over(drawn))
        .withColumn(
            "_test",
            (F.col("_n") >= MIN_ITEMS)
            & (F.col("_draw") <= F.bround(F.lit(test_fraction) * F.col("_n"), 0)),
        )
    )
    train = marked.where(~F.col("_test")).drop("_n", "_draw", "_test")
    test = marked.where(F.col("_test")).select(USER, ITEM)
    return train, test


def ranking_at_k(
    train: DataFrame,
    test: DataFrame,
    k: int,
    item_scores: np.ndarray,
    user_factors: DataFrame | None = None,
) -> dict[str, float]:
    """Mean NDCG@k and recall@k over the customers of `test` (user, item), their `train`
    pairs left out, every item ranked. `item_scores`: one score per item for everyone
    (n_items,), or item factors (n_items, rank) dotted with each customer's row of
    `user_factors` (id, features); NaN marks an item (or a customer without factors) that
    is never recommended. Customers are ranked in blocks on the executors
    (`block_sums`); only three numbers per block come back."""
    seen = train.groupBy(USER).agg(F.collect_list(ITEM).alias("seen"))
    rows = test.groupBy(USER).agg(F.collect_list(ITEM).alias("held")).join(seen, USER, "left")
    if user_factors is not None:
        vectors = user_factors.select(F.col("id").alias(USER), F.col("features").alias("uf"))
        rows = rows.join(vectors, USER, "left")
    shared = train.sparkSession.sparkContext.broadcast(np.asarray(item_scores, np.float32))

    def blocks(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for frame in frames:
            yield block_sums(frame, shared.value, k)

    sums = rows.mapInPandas(blocks, "users long, ndcg double, recall double").agg(
        F.sum("users"), F.sum("ndcg"), F.sum("recall")
    )
    total = sums.first()
    shared.unpersist()
    users = int(total[0] or 0) if total else 0
    if not users:
        return {"ndcg": float("nan"), "recall": float("nan")}
    return {"ndcg": float(total[1]) / users, "recall": float(total[2]) / users}  # type: ignore[index]


def block_sums(frame: pd.DataFrame, items: np.ndarray, k: int) -> pd.DataFrame:
    """(customers, sum of NDCG@k, sum of recall@k) of one block: `recsys.serving.top_k_rows`
    over the block's scores and `recsys.evaluation.ranking_metrics` against its held-out
    items, in slices of at most ~16M scores (memory stays bounded for any catalogue)."""
    step = max(1, CELLS // max(1, items.shape[0]))
    users = ndcg = recall = 0.0
    for start in range(0, len(frame), step):
        part = frame.iloc[start : start + step]
        scores = _scores(part, items)
        seen = _csr(part["seen"], items.shape[0])
        scores[seen.nonzero()] = -np.inf
        scores[np.isnan(scores)] = -np.inf
        top, _ = top_k_rows(scores, k)
        metrics = ranking_metrics(top, _csr(part["held"], items.shape[0]), k)
        n = len(part)  # every customer here holds at least one test item
        users, ndcg, recall = users + n, ndcg + metrics["ndcg"] * n, recall + metrics["recall"] * n
    return pd.DataFrame({"users": [int(users)], "ndcg": [ndcg], "recall": [recall]})


def _scores(part: pd.DataFrame, items: np.ndarray) -> np.ndarray:
    if items.ndim == 1:
        return np.tile(items, (len(part), 1))
    vectors = part["uf"]
    known = vectors.notna().to_numpy()
    factors = np.full((len(part), items.shape[1]), np.nan, np.float32)
    if known.any():
        factors[known] = np.stack(list(vectors[known])).astype(np.float32)
    return factors @ items.T


def _csr(lists: pd.Series, n_items: int) -> sp.csr_matrix:
    """Rows of item indices (None: no items) as a 0/1 CSR matrix."""
    rows = [np.asarray(x, np.int64) if x is not None else np.empty(0, np.int64) for x in lists]
    indptr = np.concatenate([[0], np.cumsum([len(r) for r in rows])])
    indices = np.concatenate(rows) if rows else np.empty(0, np.int64)
    data = np.ones(len(indices), np.float32)
    return sp.csr_matrix((data, indices, indptr), shape=(len(rows), n_items))
