"""The confidence matrix on Spark, read the way `recsys.matrix` reads events.

Every event's weight comes from the same `WeightConfig` (`recsys.matrix.product_weights`:
the weights of `contracts.schema.EVENT_WEIGHTS`, a dismissal subtracting, ratings read as
asked), summed per (customer, item), clipped at 0 and scaled as `recsys.matrix.confidences`
scales them. Rows are the customers of the events in first-seen order and columns the
catalogue in file order, as `jobs.modelops.prepare` builds them, so the id maps (and the
registry's `ids.npz`) are the pandas engine's.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contracts.errors import InvalidInput
from contracts.schema import EVENT_WEIGHTS
from recsys.matrix import IdMap, Interactions, WeightConfig
from spark.tables import ROW

USER, ITEM, CONF = "user", "item", "conf"  # the integer indices ALS reads, and confidence


@dataclass(frozen=True)
class SparkInteractions:
    """Confidences as a DataFrame (user, item, conf) with the id maps of its indices."""

    pairs: DataFrame
    customers: IdMap
    items: IdMap

    def to_driver(self) -> Interactions:
        """The same matrix as scipy CSR (float32, sorted), for the registry and publishing."""
        rows = self.pairs.select(USER, ITEM, CONF).toPandas()
        shape = (len(self.customers), len(self.items))
        coo = sp.coo_matrix(
            (rows[CONF].to_numpy(np.float32), (rows[USER].to_numpy(), rows[ITEM].to_numpy())),
            shape=shape,
        )
        matrix = sp.csr_matrix(coo, dtype=np.float32)
        matrix.sort_indices()
        return Interactions(matrix=matrix, customers=self.customers, items=self.items)


def weight_column(events: DataFrame, config: WeightConfig) -> Column:
    """Raw weight of each event, as `recsys.matrix.event_weights` (no time decay)."""
    if config.half_life_days is not None:
        raise InvalidInput("--engine spark does not decay event weights (half_life_days) yet")
    table = {**config.weights, "dismiss": config.dismiss_weight}
    lookup = F.create_map(*[F.lit(v) for pair in table.items() for v in pair])
    by_type = F.coalesce(lookup[F.col("type")], F.lit(0.0))
    value = (
        F.coalesce(F.nanvl(F.col("value").cast("double"), F.lit(0.0)), F.lit(0.0))
        if "value" in events.columns
        else F.lit(0.0)
    )
    strong = F.lit(float(table.get("rate", EVENT_WEIGHTS["rate"])))
    if config.ratings == "interaction":
        rate = strong
    elif config.ratings == "liked":
        rate = F.when(value >= config.like_threshold, strong).otherwise(config.dismiss_weight)
    else:
        rate = F.lit(config.rate_weight) * value
        if config.min_rating is not None:
            rate = F.when(value < config.min_rating, F.lit(0.0)).otherwise(rate)
    return F.when(F.col("type") == "rate", rate).otherwise(by_type).cast("double")


def scaled(summed: Column, config: WeightConfig) -> Column:
    """`recsys.matrix.confidences`' scaling of a summed, clipped weight."""
    if config.confidence == "log1p":
        return F.lit(config.alpha) * F.log1p(summed)
    if config.confidence == "linear":
        return F.lit(config.alpha) * summed
    if config.confidence == "binary":
        return F.lit(1.0)
    raise InvalidInput(f"unknown confidence scaling {config.confidence!r}")


def build_interactions(
    events: DataFrame, items: DataFrame, config: WeightConfig
) -> SparkInteractions:
    """Confidences of every (customer, catalogue item) pair with a positive summed weight."""
    spark = events.sparkSession
    first = events.groupBy("customer_id").agg(F.min(ROW).alias("first")).orderBy("first")
    customers = IdMap([r[0] for r in first.select("customer_id").collect()], kind="customer")
    catalogue = items.orderBy(ROW).select("item_id").collect()
    item_map = IdMap([r[0] for r in catalogue], kind="item")
    users = spark.createDataFrame(
        [(str(c), i) for i, c in enumerate(customers.ids(np.arange(len(customers))))],
        f"customer_id string, {USER} int",
    )
    cols = spark.createDataFrame(
        [(str(c), i) for i, c in enumerate(item_map.ids(np.arange(len(item_map))))],
        f"item_id string, {ITEM} int",
    )
    weighted = events.withColumn("w", weight_column(events, config)).where(F.col("w") != 0)
    summed = (
        weighted.join(F.broadcast(cols), "item_id")  # events of unknown items are dropped
        .join(users, "customer_id")
        .groupBy(USER, ITEM)
        .agg(F.greatest(F.sum("w"), F.lit(0.0)).alias("w"))
        .where(F.col("w") > 0)
    )
    pairs = summed.select(USER, ITEM, scaled(F.col("w"), config).alias(CONF))
    return SparkInteractions(pairs=pairs, customers=customers, items=item_map)
