"""`touchpoint train --engine spark`: MLlib ALS (implicit) beside a popularity baseline.

The confidences are `recsys.matrix`'s (`spark.interactions`), the validation split the pandas
engine's default protocol and NDCG@k a full ranking computed on the executors
(`spark.validation`). ALS is fitted on the training part and scored; popularity (customers
per item in the training part, `recsys.models.popularity`'s `count`) likewise. A model worse
than popularity is refused (`recsys.selection.check_publishable`: `ModelRejected`); else ALS
is refitted on every pair and its factors pulled to the driver as an `ALSRecommender`, so the
registry, `models activate/rollback`, batch scoring and the API's fold-in read it unchanged.

Two differences from implicit's ALS, both MLlib's design: the confidence of a pair is
`1 + alpha * r` (implicit: `alpha * r`), and the ridge of a customer (item) is `regParam`
times its number of pairs (ALS-WR). The saved model's `regularization`, which the request-time
fold-in uses for a customer the model has not seen, is `regParam` times the mean number of
pairs per customer: the ridge MLlib gave a typical customer.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyspark.ml.recommendation import ALS, ALSModel
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from contracts.errors import InvalidInput
from recsys.matrix import Interactions, WeightConfig
from recsys.models.factor import ALSRecommender
from recsys.selection import check_publishable
from spark.interactions import CONF, ITEM, USER, SparkInteractions, build_interactions
from spark.validation import random_split, ranking_at_k

METRIC = "ndcg"


@dataclass(frozen=True)
class SparkALSParams:
    """MLlib ALS settings (its own names); one configuration, no search."""

    rank: int = 32
    max_iter: int = 10
    reg_param: float = 0.3  # ALS-WR: times each customer's (item's) number of pairs
    alpha: float = 5.0
    seed: int = 42


@dataclass
class SparkTrained:
    """The refitted model on the driver, the matrix it was fitted on, validation figures."""

    model: ALSRecommender
    interactions: Interactions
    params: SparkALSParams
    validation: dict[str, float]
    popularity: dict[str, float]
    timings: dict[str, float]


def als(params: SparkALSParams, blocks: int) -> ALS:
    """MLlib ALS with `blocks` user and item blocks (the session's default parallelism: its
    default of 10 makes tiny data pay for 10x the tasks)."""
    return ALS(
        rank=params.rank, maxIter=params.max_iter, regParam=params.reg_param,
        alpha=params.alpha, implicitPrefs=True, seed=params.seed, userCol=USER,
        itemCol=ITEM, ratingCol=CONF, coldStartStrategy="drop", numUserBlocks=blocks,
        numItemBlocks=blocks,
    )  # fmt: skip


def popularity_vector(train: DataFrame, n_items: int) -> np.ndarray:
    """Customers per item in `train` (`recsys.models.popularity`'s `count`); NaN for items
    nobody has (never ranked)."""
    out = np.full(n_items, np.nan, np.float32)
    for row in train.groupBy(ITEM).agg(F.countDistinct(USER).alias("n")).collect():
        out[int(row[ITEM])] = float(row["n"])
    return out


def factors(frame: DataFrame, n: int, rank: int, fill: float = 0.0) -> np.ndarray:
    """(n, rank) float32 factors by index; rows MLlib has no factors for hold `fill`."""
    out = np.full((n, rank), fill, np.float32)
    got = frame.select("id", "features").toPandas()
    if len(got):
        out[got["id"].to_numpy(np.int64)] = np.stack(list(got["features"]))
    return out


def train_als(
    events: DataFrame,
    items: DataFrame,
    *,
    weights: WeightConfig,
    test_fraction: float = 0.2,
    k: int = 10,
    params: SparkALSParams | None = None,
) -> SparkTrained:
    """Validate ALS against popularity on a held-out split, refit on everything, check it."""
    params = params or SparkALSParams()
    t0 = time.perf_counter()
    data: SparkInteractions = build_interactions(events, items, weights)
    pairs = data.pairs.cache()
    train, test = random_split(pairs, test_fraction=test_fraction, seed=params.seed)
    train, test = train.cache(), test.cache()
    if test.limit(1).count() == 0:
        raise InvalidInput("no customer has two interactions: nothing to validate on")
    blocks = max(1, events.sparkSession.sparkContext.defaultParallelism)
    t1 = time.perf_counter()
    held_out = als(params, blocks).fit(train)
    n_items, rank = len(data.items), params.rank
    validation = ranking_at_k(train, test, k, factors(held_out.itemFactors, n_items, rank,
                              fill=np.nan), held_out.userFactors)  # fmt: skip
    popularity = ranking_at_k(train, test, k, popularity_vector(train, n_items))
    t2 = time.perf_counter()
    final = als(params, blocks).fit(pairs)
    model = to_recommender(final, data, params, pairs)
    t3 = time.perf_counter()
    for frame in (pairs, train, test):
        frame.unpersist()
    check_publishable(model, validation, popularity, METRIC)
    interactions = data.to_driver()
    timings = {"prepare": t1 - t0, "validate": t2 - t1, "refit": t3 - t2,
               "collect": time.perf_counter() - t3}  # fmt: skip
    return SparkTrained(model, interactions, params, validation, popularity, timings)


def to_recommender(
    fitted: ALSModel, data: SparkInteractions, params: SparkALSParams, pairs: DataFrame
) -> ALSRecommender:
    """The MLlib factors as the registry's `als` model (see the module's note on the ridge)."""
    per_user = pairs.groupBy(USER).count().agg(F.avg("count")).first()
    mean_pairs = float(per_user[0]) if per_user and per_user[0] else 1.0
    ridge = params.reg_param * mean_pairs
    saved: dict[str, Any] = {
        "factors": params.rank, "regularization": ridge, "alpha": params.alpha,
        "iterations": params.max_iter, "random_state": params.seed,
    }  # fmt: skip
    model = ALSRecommender(**saved)
    model.user_factors = factors(fitted.userFactors, len(data.customers), params.rank)
    model.item_factors = factors(fitted.itemFactors, len(data.items), params.rank)
    model.n_users, model.n_items = len(data.customers), len(data.items)
    model.fold_in_regularization = ridge
    model._fitted = True
    return model
