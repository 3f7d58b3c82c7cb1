"""Lifecycle stage per customer: prospect, new, active, lapsing, churned, reactivated.

Thresholds follow each customer's own rhythm: with a typical inter-purchase interval `g`
(median gap between distinct order dates) the customer is lapsing after
`max(min_lapse_days, lapse_factor * g)` days without a purchase and churned after
`max(min_churn_days, churn_factor * g)`. One-order customers (no interval yet) use the
defaults `default_lapse_days` and `default_churn_days`.

Stages, first match wins:
1. prospect — no purchase as of the date;
2. churned — recency beyond the churn threshold;
3. lapsing — recency beyond the lapse threshold;
4. reactivated — the gap before the latest order exceeded the churn threshold computed
   from the gaps before it (or the default), i.e. they had churned and came back;
5. new — first purchase at most `new_days` ago;
6. active — everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput

STAGES: Final = ("prospect", "new", "active", "lapsing", "churned", "reactivated")
STAGE_DESCRIPTIONS: Final = {
    "prospect": "known to us but never bought",
    "new": "first purchase recently",
    "active": "buying at their usual rhythm",
    "lapsing": "overdue for their next purchase",
    "churned": "long overdue: likely gone",
    "reactivated": "came back after having churned",
}


@dataclass(frozen=True)
class LifecycleConfig:
    """Thresholds in days and multiples of the customer's own purchase interval."""

    new_days: float = 30.0
    lapse_factor: float = 2.0
    churn_factor: float = 4.0
    min_lapse_days: float = 14.0
    min_churn_days: float = 30.0
    default_lapse_days: float = 90.0
    default_churn_days: float = 180.0

    def __post_init__(self) -> None:
        if not 0 < self.lapse_factor < self.churn_factor:
            raise InvalidInput("lifecycle factors need 0 < lapse_factor < churn_factor")
        if not 0 < self.default_lapse_days < self.default_churn_days:
            raise InvalidInput("lifecycle defaults need 0 < default_lapse < default_churn")


def assign_lifecycle(
    features: pd.DataFrame, *, as_of: pd.Timestamp, config: LifecycleConfig | None = None
) -> pd.Series:
    """The stage of every customer (string Series aligned with `features`)."""
    cfg = config or LifecycleConfig()
    need = ("frequency", "recency_days", "interval_days", "last_gap_days", "prior_interval_days")
    missing = [c for c in (*need, "first_purchase_at") if c not in features]
    if missing:
        raise InvalidInput(f"features lack column(s) for lifecycle: {', '.join(missing)}")
    buyer = features["frequency"].to_numpy() > 0
    recency = features["recency_days"].to_numpy(np.float64)
    lapse_at = _threshold(features["interval_days"], cfg.lapse_factor, cfg.min_lapse_days,
                          cfg.default_lapse_days)  # fmt: skip
    churn_at = _threshold(features["interval_days"], cfg.churn_factor, cfg.min_churn_days,
                          cfg.default_churn_days)  # fmt: skip
    back_at = _threshold(features["prior_interval_days"], cfg.churn_factor, cfg.min_churn_days,
                         cfg.default_churn_days)  # fmt: skip
    last_gap = features["last_gap_days"].to_numpy(np.float64)
    first = pd.to_datetime(features["first_purchase_at"], utc=True)
    since_first = ((as_of - first).dt.total_seconds() / 86_400).to_numpy(
        np.float64, na_value=np.nan
    )
    with np.errstate(invalid="ignore"):
        conditions = [
            ~buyer,
            recency > churn_at,
            recency > lapse_at,
            last_gap > back_at,
            since_first <= cfg.new_days,
        ]
    stage = np.select(
        conditions, ["prospect", "churned", "lapsing", "reactivated", "new"], "active"
    )
    return pd.Series(stage, index=features.index, dtype=pd.StringDtype("pyarrow"))


def _threshold(interval: pd.Series, factor: float, floor: float, default: float) -> np.ndarray:
    gap = interval.to_numpy(np.float64)
    return np.where(np.isnan(gap), default, np.maximum(floor, factor * gap))
