"""Per-customer features on Spark: the definitions of `segments.features`, in Spark SQL.

Same columns, same order, same rules (see `segments/features.py` for each definition):
the customer universe (customers created by `as_of`, then event-only ids), whole-day
recency and tenure, distinct orders, median gaps between distinct UTC order dates, channel
shares, top categories, latest survey scores, loyalty. Every aggregate is a `groupBy` on
the customer, so nothing is gathered on one executor. Medians use Spark's exact
`percentile` (linear interpolation, the pandas median) over one customer's gaps.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from contracts.schema import CHANNELS
from segments.features import SURVEY_COLUMNS, TOP_N_CATEGORIES
from spark.tables import ROW

DAY_US = 86_400 * 10**6
CID = "customer_id"
ORDER = "_order"  # the pandas engine's row order: customers-table rows, then event-only ids


def micros(column: str | Column) -> Column:
    return F.unix_micros(F.col(column) if isinstance(column, str) else column)


def compute_features(
    *,
    customers: DataFrame,
    events: DataFrame,
    items: DataFrame | None,
    feedback: DataFrame | None,
    as_of: pd.Timestamp,
    channels: Sequence[str] = CHANNELS,
) -> DataFrame:
    """One row per customer, the columns of `segments.features.compute_features` plus
    `_order` (sort by it for the pandas engine's row order)."""
    cut = F.lit(as_of.value // 1000)  # microseconds since the epoch
    table = customers
    if "created_at" in customers.columns:
        table = customers.where(F.col("created_at").isNull() | (micros("created_at") <= cut))
    kept = events.where(F.col("timestamp").isNotNull() & (micros("timestamp") <= cut))
    extra = (
        kept.select(CID)
        .distinct()
        .join(table.select(CID), CID, "left_anti")
        .withColumn("_rank", F.row_number().over(Window.orderBy(CID)))
    )
    universe = table.select(CID, F.lit(0).alias("_part"), F.col(ROW).alias("_pos")).unionByName(
        extra.select(CID, F.lit(1).alias("_part"), F.col("_rank").cast("long").alias("_pos"))
    )
    purchases = kept.where(F.col("type") == "purchase")
    out = universe.join(_purchase_stats(purchases, cut), CID, "left")
    out = out.join(_intervals(purchases), CID, "left")
    out = out.join(_tenure(table, kept, cut), CID, "left")
    out = out.join(_channel_shares(kept, channels), CID, "left")
    out = out.join(_top_categories(purchases, items), CID, "left")
    out = out.join(
        _latest_feedback(feedback, cut)
        if feedback is not None
        else universe.select(
            CID, *[F.lit(None).cast("double").alias(c) for c in SURVEY_COLUMNS.values()]
        ),
        CID,
        "left",
    )
    out = out.join(_loyalty(table), CID, "left")
    names = [f"channel_share.{c}" for c in channels]
    frequency = F.coalesce(F.col("frequency"), F.lit(0)).cast("long")
    monetary = F.coalesce(F.col("monetary"), F.lit(0.0))
    return out.select(
        CID,
        F.col("recency_days").cast("double").alias("recency_days"),
        frequency.alias("frequency"),
        monetary.alias("monetary"),
        F.when(frequency > 0, monetary / frequency).alias("aov"),
        "interval_days",
        "last_gap_days",
        "prior_interval_days",
        "first_purchase_at",
        "last_purchase_at",
        F.coalesce(F.col("tenure_days"), F.lit(0.0)).alias("tenure_days"),
        F.coalesce(F.col("events"), F.lit(0)).cast("long").alias("events"),
        *[F.coalesce(F.col(f"`{n}`"), F.lit(0.0)).alias(n) for n in names],
        F.coalesce(F.col("main_channel"), F.lit("")).alias("main_channel"),
        F.coalesce(F.col("top_category"), F.lit("")).alias("top_category"),
        F.coalesce(F.col("top_categories"), F.lit("")).alias("top_categories"),
        *SURVEY_COLUMNS.values(),
        F.coalesce(F.col("loyalty_tier"), F.lit("none")).alias("loyalty_tier"),
        F.coalesce(F.col("points_balance"), F.lit(0)).cast("long").alias("points_balance"),
        (F.col("_part") * F.lit(1 << 40) + F.col("_pos")).alias(ORDER),
    )


def _purchase_stats(purchases: DataFrame, cut: Column) -> DataFrame:
    order = F.coalesce(F.col("order_id"), F.lit("")) if "order_id" in purchases.columns else None
    value = F.coalesce(F.col("value"), F.lit(0.0)) if "value" in purchases.columns else F.lit(0.0)
    # an empty order id is an order of its own; the others count once per distinct id
    orders = (
        F.count_distinct(F.when(order != "", order)) + F.sum(F.when(order == "", 1).otherwise(0))
        if order is not None
        else F.count(F.lit(1))
    )
    return purchases.groupBy(CID).agg(
        F.floor((cut - F.max(micros("timestamp"))) / F.lit(DAY_US)).alias("recency_days"),
        orders.alias("frequency"),
        F.sum(value.cast("double")).alias("monetary"),
        F.min("timestamp").alias("first_purchase_at"),
        F.max("timestamp").alias("last_purchase_at"),
    )


def _intervals(purchases: DataFrame) -> DataFrame:
    """Median, last and prior-median gaps (days) between distinct UTC order dates."""
    days = purchases.select(CID, F.floor(micros("timestamp") / F.lit(DAY_US)).alias("day"))
    by_day = Window.partitionBy(CID).orderBy("day")
    gaps = (
        days.distinct()
        .withColumn("gap", (F.col("day") - F.lag("day").over(by_day)).cast("double"))
        .withColumn("_back", F.row_number().over(by_day.orderBy(F.desc("day"))))
        .where(F.col("gap").isNotNull())
    )
    return gaps.groupBy(CID).agg(
        F.percentile("gap", 0.5).alias("interval_days"),
        F.max(F.when(F.col("_back") == 1, F.col("gap"))).alias("last_gap_days"),
        F.percentile(F.when(F.col("_back") > 1, F.col("gap")), 0.5).alias("prior_interval_days"),
    )


def _tenure(table: DataFrame, kept: DataFrame, cut: Column) -> DataFrame:
    """Whole days since `created_at`, or since the first event when it is unknown."""
    first = kept.groupBy(CID).agg(F.min(micros("timestamp")).alias("_first"))
    created = (
        table.select(CID, micros("created_at").alias("_created"))
        if "created_at" in table.columns
        else table.select(CID, F.lit(None).alias("_created"))
    )
    both = first.join(created, CID, "full")
    start = F.coalesce(F.col("_created"), F.col("_first"))
    days = F.greatest(F.floor((cut - start) / F.lit(DAY_US)), F.lit(0)).cast("double")
    return both.select(CID, days.alias("tenure_days"))


def _channel_shares(kept: DataFrame, channels: Sequence[str]) -> DataFrame:
    channel = (
        F.coalesce(F.col("channel"), F.lit("web")) if "channel" in kept.columns else F.lit("web")
    )
    wide = (
        kept.withColumn("_channel", channel).groupBy(CID).pivot("_channel", list(channels)).count()
    )
    total = sum((F.coalesce(F.col(c), F.lit(0)) for c in channels), F.lit(0))
    shares = [
        (F.coalesce(F.col(c), F.lit(0)) / F.greatest(total, F.lit(1))).alias(f"channel_share.{c}")
        for c in channels
    ]
    # the most used channel, the first of `channels` on a tie (numpy's argmax)
    best = F.greatest(
        *[
            F.struct(F.coalesce(F.col(c), F.lit(0)), F.lit(-i), F.lit(c))
            for i, c in enumerate(channels)
        ]
    )
    main = F.when(total > 0, best.getField("col3")).otherwise(F.lit(""))
    return wide.select(CID, total.alias("events"), *shares, main.alias("main_channel"))


def _top_categories(purchases: DataFrame, items: DataFrame | None) -> DataFrame:
    if items is None or "category" not in items.columns or "item_id" not in purchases.columns:
        return (
            purchases.select(CID)
            .distinct()
            .select(CID, F.lit("").alias("top_category"), F.lit("").alias("top_categories"))
        )
    cats = items.select("item_id", F.coalesce(F.col("category"), F.lit("")).alias("_cat"))
    bought = purchases.join(cats, "item_id").where(F.col("_cat") != "").groupBy(CID, "_cat").count()
    rank = F.row_number().over(Window.partitionBy(CID).orderBy(F.desc("count"), "_cat"))
    top = bought.withColumn("_rank", rank).where(F.col("_rank") <= TOP_N_CATEGORIES)
    listed = F.array_sort(F.collect_list(F.struct("_rank", "_cat")))
    return top.groupBy(CID).agg(
        F.max(F.when(F.col("_rank") == 1, F.col("_cat"))).alias("top_category"),
        F.array_join(F.transform(listed, lambda s: s.getField("_cat")), ";").alias(
            "top_categories"
        ),
    )


def _latest_feedback(feedback: DataFrame, cut: Column) -> DataFrame:
    """Latest score per survey and customer; on a timestamp tie the later row wins."""
    latest = F.max_by(F.col("score").cast("double"), F.struct(micros("timestamp"), F.col(ROW)))
    answered = feedback.where(micros("timestamp") <= cut)
    return (
        answered.groupBy(CID)
        .pivot("survey", list(SURVEY_COLUMNS))
        .agg(latest)
        .withColumnsRenamed(dict(SURVEY_COLUMNS))
    )


def _loyalty(table: DataFrame) -> DataFrame:
    tier = F.col("loyalty_tier") if "loyalty_tier" in table.columns else F.lit("none")
    points = F.col("points_balance") if "points_balance" in table.columns else F.lit(0)
    return table.select(
        CID,
        tier.alias("loyalty_tier"),
        F.coalesce(points.cast("double"), F.lit(0.0)).cast("long").alias("points_balance"),
    )
