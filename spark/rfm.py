"""RFM on Spark: the pandas engine's exact scores, computed without a global sort into one
partition.

`segments.rfm` scores a purchaser `ceil(5 * r / n)` where r is the *average* rank of its
value (ties share it). That needs, for every distinct value v, how many purchasers have a
smaller value and how many have v. An exact two-pass histogram gives both:

1. count purchasers per distinct value, range-partition those counts by value (Spark
   samples the boundaries) and total each partition — a handful of numbers to the driver;
2. a running sum inside each partition plus the totals of the partitions before it is the
   number of purchasers at or below v; joined back to the purchasers by value.

So the scores are exact, equal to the pandas engine's, not approximate quantiles.
"""

from __future__ import annotations

import itertools

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from segments.rfm import RFM_GRID

SCORES = (
    ("r_score", "recency_days", True),
    ("f_score", "frequency", False),
    ("m_score", "monetary", False),
)
PARTS = "_part"


def score_rfm(features: DataFrame, *, partitions: int = 8) -> DataFrame:
    """`features` plus r_score, f_score, m_score (0 without a purchase) and rfm_segment."""
    buyer = (F.col("frequency") > 0) & F.col("recency_days").isNotNull()
    buyers = features.where(buyer)
    n = buyers.count()
    out = features
    for score, source, descending in SCORES:
        value = -F.col(source) if descending else F.col(source)
        ranks = quintile_scores(buyers.select(value.cast("double").alias("_v")), n, partitions)
        out = (
            out.withColumn("_v", F.when(buyer, value.cast("double")))
            .join(ranks.withColumnRenamed("_score", score), "_v", "left")
            .drop("_v")
        )
        out = out.withColumn(score, F.coalesce(F.col(score), F.lit(0)).cast("long"))
    return out.withColumn("rfm_segment", rfm_segment_names())


def quintile_scores(values: DataFrame, n: int, partitions: int) -> DataFrame:
    """(`_v`, `_score`) for every distinct value of column `_v`: ceil(5 * avg rank / n)."""
    counts = values.groupBy("_v").count().repartitionByRange(partitions, "_v")
    counts = counts.withColumn(PARTS, F.spark_partition_id()).cache()
    totals = {
        int(r[PARTS]): int(r["total"])  # type: ignore[call-overload]
        for r in counts.groupBy(PARTS).agg(F.sum("count").alias("total")).collect()
    }
    before = dict(
        zip(
            sorted(totals),
            itertools.accumulate([0, *[totals[p] for p in sorted(totals)]]),
            strict=False,
        )
    )
    offset = (
        F.create_map(*[F.lit(x) for p, b in before.items() for x in (p, b)])
        if before
        else F.create_map(F.lit(0), F.lit(0))
    )
    running = F.sum("count").over(
        Window.partitionBy(PARTS).orderBy("_v").rowsBetween(Window.unboundedPreceding, 0)
    )
    upto = offset[F.col(PARTS)] + running  # purchasers with a value <= v: the highest rank
    # average rank (lo + hi) / 2 with lo = upto - count + 1, hi = upto: ceil exactly in ints
    twice_rank = 2 * upto - F.col("count") + 1
    score = F.floor((5 * twice_rank + 2 * n - 1) / F.lit(2 * n)) if n else F.lit(0)
    return counts.select("_v", score.cast("long").alias("_score"))


def rfm_segment_names() -> Column:
    """The grid of `segments.rfm.RFM_GRID` as a map over R * 10 + FM; '' without a purchase."""
    cells = [(r * 10 + fm, name) for r, row in RFM_GRID.items() for fm, name in enumerate(row, 1)]
    grid = F.create_map(*[F.lit(x) for cell in cells for x in cell])
    fm = F.floor((F.col("f_score") + F.col("m_score") + 1) / 2)
    named = grid[(F.col("r_score") * 10 + fm).cast("int")]
    buyer = (F.col("f_score") > 0) & (F.col("m_score") > 0)
    return F.when(buyer, F.coalesce(named, F.lit(""))).otherwise(F.lit(""))
