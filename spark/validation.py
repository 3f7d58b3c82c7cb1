"""The validation split and NDCG@k on Spark, as `recsys.split` and `recsys.evaluation` do them.

Split: the pandas engine's default (`recsys.split.random_split`): per customer with at least
two items, round(test_fraction * n) of them (half to even, as Python's `round`) go to test,
chosen at random — here by a seeded hash of (customer, item), so the choice does not depend
on how the data is partitioned. The same protocol, not the same draw: numpy's generator
cannot be replayed on executors.

NDCG@k: binary relevance, every item the model scores ranked for each validation customer
(a full ranking, not a sample), the customer's training items left out, equal scores listing
the lower item index first (`recsys.serving.top_k_rows`), averaged over customers with at
least one test item.
"""

from __future__ import annotations

import math

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from spark.interactions import ITEM, USER

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


def dot(left: str, right: str) -> F.Column:
    """Dot product of two array<float> columns of equal length."""
    return F.aggregate(
        F.zip_with(left, right, lambda a, b: a * b), F.lit(0.0).cast("double"), lambda s, x: s + x
    )


def ndcg_at_k(scores: DataFrame, train: DataFrame, test: DataFrame, k: int) -> float:
    """Mean NDCG@k of `scores` (user, item, score: every scored item of every validation
    customer) against `test` (user, item), the customer's `train` pairs left out."""
    candidates = scores.join(train.select(USER, ITEM), [USER, ITEM], "left_anti")
    order = Window.partitionBy(USER).orderBy(F.desc("score"), F.asc(ITEM))
    top = candidates.withColumn("rank", F.row_number().over(order)).where(F.col("rank") <= k)
    dcg = (
        top.join(test, [USER, ITEM])
        .groupBy(USER)
        .agg(F.sum(1.0 / F.log2(F.col("rank") + 1.0)).alias("dcg"))
    )
    ideal = [sum(1.0 / math.log2(r + 1) for r in range(1, n + 1)) for n in range(1, k + 1)]
    idcg = F.element_at(F.array(*[F.lit(v) for v in ideal]), F.least(F.col("n_rel"), F.lit(k)))
    relevant = test.groupBy(USER).agg(F.count(F.lit(1)).cast("int").alias("n_rel"))
    per_user = relevant.join(dcg, USER, "left").select(
        (F.coalesce(F.col("dcg"), F.lit(0.0)) / idcg).alias("ndcg")
    )
    value = per_user.agg(F.avg("ndcg")).first()
    return float("nan") if value is None or value[0] is None else float(value[0])
