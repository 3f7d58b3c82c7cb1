"""The CUPED covariate: each exposed customer's spend before the experiment touched them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def pre_period_spend(
    events: pd.DataFrame,
    *,
    customer_ids: Sequence[str],
    cutoffs: Sequence[float],
) -> dict[str, float]:
    """Sum of purchase `value` per customer strictly before that customer's cutoff.

    `cutoffs` are epoch seconds (the experiment start, or the customer's first exposure when
    the experiment has no start): spend before it cannot have been changed by the treatment.
    Customers with no purchase before their cutoff get 0.0. `events` has the canonical
    `customer_id`, `type`, `timestamp` (UTC) and `value` columns.
    """
    cut = pd.Series(np.asarray(cutoffs, dtype=np.float64), index=pd.Index(customer_ids, dtype=str))
    buys = events.loc[events["type"] == "purchase", ["customer_id", "timestamp", "value"]]
    buys = buys[buys["customer_id"].isin(cut.index)]
    seconds = (buys["timestamp"] - pd.Timestamp(0, tz="UTC")).dt.total_seconds()
    before = seconds.to_numpy() < cut.loc[buys["customer_id"].astype(str)].to_numpy()
    spent = buys.loc[before].groupby(buys.loc[before, "customer_id"].astype(str))["value"].sum()
    return {c: float(spent.get(c, 0.0)) for c in cut.index}
