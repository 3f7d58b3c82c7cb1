"""Popularity rankings from events: global, per channel, per segment, and trending.

These are the cold-start answers and the baseline every model must beat. Trending is the
same count with each event's weight halved every `half_life_days`, so what is rising now
outranks what was big last year. `PopularityRecommender.fit(..., user_groups=...)` is
the per-segment ranking as a model; these functions serve publishing and batch scoring.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys.errors import InvalidInputError
from recsys.matrix import IdMap, WeightConfig, decay_factors, event_weights

POSITIVE = WeightConfig(confidence="binary", min_rating=3.0)


def popularity_scores(
    events: pd.DataFrame,
    items: IdMap,
    *,
    by: str | pd.Series | None = None,
    half_life_days: float | None = None,
    now: pd.Timestamp | None = None,
    config: WeightConfig = POSITIVE,
) -> dict[str, np.ndarray]:
    """Item scores (n_items,) per group; key "*" is the global ranking.

    Each positive event (a view, click, cart, purchase, redeem, or a rating of at least
    `config.min_rating`) is one vote, decayed when `half_life_days` is set.
    `by` is an events column (e.g. "channel") or a Series mapping customer_id -> group
    (e.g. segment), giving one extra ranking per group.
    """
    cfg = WeightConfig(
        weights=config.weights, rate_weight=config.rate_weight, min_rating=config.min_rating
    )
    w = (event_weights(events, cfg) > 0).astype(np.float64)  # one vote per positive event
    if half_life_days is not None:
        w *= decay_factors(events, half_life_days, now=now)
    cols = items.lookup(events["item_id"].to_numpy())
    keep = (cols >= 0) & (w > 0)
    out = {"*": np.bincount(cols[keep], weights=w[keep], minlength=len(items))}
    if by is None:
        return {k: v.astype(np.float32) for k, v in out.items()}
    if isinstance(by, str):
        if by not in events:
            raise InvalidInputError(f"events have no column {by!r} to group popularity by")
        groups = events[by].astype("string").to_numpy(dtype=object)
    else:
        mapping = by.copy()
        mapping.index = mapping.index.astype(str)
        groups = events["customer_id"].astype(str).map(mapping).to_numpy(dtype=object)
    labels = pd.Series(groups[keep]).astype("string")
    codes, uniques = pd.factorize(labels, use_na_sentinel=True)
    kc, kw = cols[keep], w[keep]
    for g, name in enumerate(uniques):
        sel = codes == g
        out[str(name)] = np.bincount(kc[sel], weights=kw[sel], minlength=len(items))
    return {k: v.astype(np.float32) for k, v in out.items()}
