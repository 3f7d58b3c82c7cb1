"""The popular lists on Spark without gathering the events: each partition sums its items'
weights with the pandas engine's own `jobs.published_tables.popular_weights` (decayed from
the latest event of the whole table, as one machine decays them), the driver adds the
partitions' sums and ranks once (`rank_popular`). What reaches the driver is one weight
vector per list and partition, never an event."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.published_tables import popular_lists, popular_weights, rank_popular
from spark.tables import utc_times
from store.serving import Ranked

SUMS = "name string, weights array<double>"


def popular_on_spark(
    events: DataFrame, items: pd.DataFrame, segments: pd.DataFrame | None
) -> dict[str, Ranked]:
    """`popular_lists(events, items, segments)` with `events` a Spark table (the columns
    `popular_lists` reads: customer_id, item_id, type, channel, timestamp, value)."""
    latest = events.agg(F.max(F.unix_micros("timestamp"))).first()
    if latest is None or latest[0] is None:  # no events: the lists of an empty table
        return popular_lists(_frame([events.limit(0).toPandas()]), items, segments)
    now = pd.Timestamp(int(latest[0]), unit="us", tz="UTC")
    shared = events.sparkSession.sparkContext.broadcast((items, segments, now))

    def sums(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        parts = [batch for batch in batches if len(batch)]
        if not parts:
            return
        items_, segments_, now_ = shared.value
        weights = popular_weights(_frame(parts), items_, segments_, now=now_)
        yield pd.DataFrame({"name": list(weights), "weights": list(weights.values())})

    total: dict[str, np.ndarray] = {}
    try:
        for row in events.mapInPandas(sums, SUMS).collect():
            summed = np.asarray(row["weights"], np.float64)
            total[row["name"]] = total[row["name"]] + summed if row["name"] in total else summed
    finally:
        shared.unpersist()
    return rank_popular(total)


def _frame(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """One partition's events as the pandas engine holds them (UTC-aware times)."""
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame["timestamp"] = utc_times(frame["timestamp"])
    return frame
