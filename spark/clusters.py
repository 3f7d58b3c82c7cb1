"""Behavioural clusters on Spark with MLlib k-means: the recipe of `segments.clusters`.

Purchasers only; log1p of recency, frequency, monetary and tenure plus channel shares,
standardised by the purchasers' mean and population std (zero-variance columns dropped).
k in 2..8 chosen on the driver by the pandas engine's recipe (scikit-learn k-means and
silhouette on a bounded sample), then MLlib k-means with that k fitted on every purchaser
and every purchaser assigned to its nearest centre on the executors. Clusters are
numbered by descending mean spend and described from aggregated statistics by the shared
`describe_from_stats`.

MLlib's k-means (k-means|| initialisation) and scikit-learn's (k-means++) do not find the
same local optimum, so cluster labels agree with the pandas engine only as far as the data
has clear clusters; every other segment family is exactly equal (see tests/spark).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyspark.ml.clustering import KMeans
from pyspark.ml.functions import array_to_vector
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from sklearn.cluster import KMeans as SkKMeans
from sklearn.metrics import silhouette_score

from segments.clusters import LOG_FEATURES, ClusterStats, describe_from_stats
from spark.rules import column


@dataclass(frozen=True)
class SparkClusters:
    """`labelled`: customer_id, cluster (buyers only); descriptions; chosen k; silhouette."""

    labelled: DataFrame
    descriptions: dict[int, str]
    k: int
    silhouette: float


def cluster_customers(
    features: DataFrame,
    *,
    k_range: tuple[int, int] = (2, 8),
    sample_size: int = 3_000,
    fit_size: int = 20_000,
    seed: int = 7,
) -> SparkClusters:
    """Cluster purchasers; k in `k_range` (inclusive) maximising silhouette on a sample."""
    buyers = features.where(F.col("frequency") > 0)
    shares = [c for c in features.columns if c.startswith("channel_share.")]
    names = [c for c in LOG_FEATURES if c in features.columns] + shares
    raw = buyers.select(
        "customer_id",
        F.col("monetary").alias("_spend"),
        "top_category",
        *[_feature(c).alias(f"_x.{c}") for c in names],
        *[column(c).cast("double").alias(f"_raw.{c}") for c in names],
    )
    moments = raw.agg(
        *[F.avg(column(f"_x.{c}")) for c in names],
        *[F.stddev_pop(column(f"_x.{c}")) for c in names],
    ).first()
    n = buyers.count()
    stats = {
        c: (float(moments[i] or 0.0), float(moments[len(names) + i] or 0.0))  # type: ignore[index]
        for i, c in enumerate(names)
    }
    kept = [c for c in names if stats[c][1] > 1e-12]
    scaled = [(column(f"_x.{c}") - stats[c][0]) / stats[c][1] for c in kept]
    x = raw.withColumn("features", array_to_vector(F.array(*scaled) if scaled else F.array()))
    distinct = (
        x.select(*[column(f"_x.{c}") for c in kept]).distinct().count() if n <= sample_size else n
    )
    if distinct < 3:
        only = {0: "all purchasers"} if n else {}
        return SparkClusters(buyers.select("customer_id", F.lit(0).alias("cluster")), only, 1, 0.0)
    # k is chosen on the driver over a bounded sample, by the pandas engine's own recipe
    # (scikit-learn k-means + silhouette: cheap at 20k rows, and one Spark job instead of
    # one per k-means iteration per k); the clustering itself is MLlib on every purchaser.
    sample = x.sample(fraction=min(1.0, fit_size / n), seed=seed) if n > fit_size else x
    points = np.asarray([r["features"].toArray() for r in sample.select("features").collect()])
    chosen = choose_k(points, k_range=k_range, distinct=distinct, sample_size=sample_size,
                      seed=seed)  # fmt: skip
    if chosen is None:
        return SparkClusters(
            buyers.select("customer_id", F.lit(0).alias("cluster")), {0: "all purchasers"}, 1, 0.0
        )
    score, k = chosen
    x = x.cache()  # k-means passes over it once per iteration
    model = KMeans(k=k, seed=seed, maxIter=20).fit(x)
    predicted = model.transform(x).cache()
    spend = {
        int(r["prediction"]): float(r["spend"])
        for r in predicted.groupBy("prediction").agg(F.avg("_spend").alias("spend")).collect()
    }
    order = sorted(range(k), key=lambda c: (-spend.get(c, -np.inf), c))
    relabel = F.create_map(*[F.lit(x) for new, old in enumerate(order) for x in (old, new)])
    labelled = predicted.withColumn("cluster", relabel[F.col("prediction")].cast("long"))
    descriptions = describe_from_stats(_stats(labelled, kept))
    result = labelled.select("customer_id", "cluster")
    return SparkClusters(result, descriptions, k, score)


def choose_k(
    points: np.ndarray, *, k_range: tuple[int, int], distinct: int, sample_size: int, seed: int
) -> tuple[float, int] | None:
    """(silhouette, k) of the k in `k_range` with the best silhouette on a sample, as
    `segments.clusters` picks it; None when no k splits the sample."""
    sil_rows = points[:sample_size]
    best: tuple[float, int] | None = None
    for k in range(k_range[0], min(k_range[1], distinct - 1) + 1):
        labels = SkKMeans(n_clusters=k, n_init=2, random_state=seed).fit(points).predict(sil_rows)
        if len(np.unique(labels)) < 2:
            continue
        score = float(silhouette_score(sil_rows, labels, random_state=seed))
        if best is None or score > best[0] + 1e-9:
            best = (score, k)
    return best


def _feature(name: str) -> Column:
    value = F.coalesce(column(name).cast("double"), F.lit(0.0))
    return F.log1p(F.greatest(value, F.lit(0.0))) if name in LOG_FEATURES else value


def _stats(labelled: DataFrame, names: list[str]) -> ClusterStats:
    """What `describe_from_stats` needs, aggregated on the raw (unlogged) feature values."""
    raw = {c: F.col(f"`_raw.{c}`") for c in names}
    overall = labelled.agg(
        *[F.avg(v) for v in raw.values()], *[F.stddev_pop(v) for v in raw.values()]
    ).first()
    per = labelled.groupBy("cluster").agg(*[F.avg(v).alias(c) for c, v in raw.items()]).collect()
    cats = (
        labelled.where(F.col("top_category") != "")
        .groupBy("cluster", "top_category")
        .count()
        .collect()
    )
    counts: dict[int, dict[str, int]] = {int(r["cluster"]): {} for r in per}
    everyone: dict[str, int] = {}
    for r in cats:
        counts[int(r["cluster"])][str(r["top_category"])] = int(r["count"])
        everyone[str(r["top_category"])] = everyone.get(str(r["top_category"]), 0) + int(r["count"])
    return ClusterStats(
        overall={
            c: (float(overall[i]), float(overall[len(names) + i]))  # type: ignore[index]
            for i, c in enumerate(names)
        },
        cluster_means={int(r["cluster"]): {c: float(r[c]) for c in names} for r in per},
        category_counts=counts,
        all_category_counts=everyone,
    )
