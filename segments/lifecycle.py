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

from dataclasses import asdict, dataclass
from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from segments.definitions import RuleSegment, evaluate
from segments.expr import parse

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


# The thresholds, as data both engines read: (column, the interval it scales, and the
# `LifecycleConfig` fields of its factor, floor and default). A threshold is the default
# when the interval is unknown, else max(floor, factor * interval).
THRESHOLDS: Final = (
    ("lapse_after_days", "interval_days", "lapse_factor", "min_lapse_days", "default_lapse_days"),
    ("churn_after_days", "interval_days", "churn_factor", "min_churn_days", "default_churn_days"),
    ("comeback_after_days", "prior_interval_days", "churn_factor", "min_churn_days",
     "default_churn_days"),
)  # fmt: skip
# The stages in the segment rule language (`segments.expr`), first match wins, over the
# features plus the threshold columns and `days_since_first_purchase`; `{name}` is a
# `LifecycleConfig` field. A comparison with a missing value is false, as in SQL.
STAGE_RULES: Final = (
    ("prospect", "not frequency > 0"),
    ("churned", "recency_days > churn_after_days"),
    ("lapsing", "recency_days > lapse_after_days"),
    ("reactivated", "last_gap_days > comeback_after_days"),
    ("new", "days_since_first_purchase <= {new_days}"),
)
DEFAULT_STAGE: Final = "active"
NEEDS: Final = (
    "frequency", "recency_days", "interval_days", "last_gap_days", "prior_interval_days",
    "first_purchase_at",
)  # fmt: skip


def stage_rules(config: LifecycleConfig | None = None) -> list[RuleSegment]:
    """The stage conditions parsed, with the config's numbers filled in (engine-neutral)."""
    values = asdict(config or LifecycleConfig())
    return [
        RuleSegment(stage, "", text.format(**values), parse(stage, text.format(**values)))
        for stage, text in STAGE_RULES
    ]


def assign_lifecycle(
    features: pd.DataFrame, *, as_of: pd.Timestamp, config: LifecycleConfig | None = None
) -> pd.Series:
    """The stage of every customer (string Series aligned with `features`)."""
    cfg = config or LifecycleConfig()
    missing = [c for c in NEEDS if c not in features]
    if missing:
        raise InvalidInput(f"features lack column(s) for lifecycle: {', '.join(missing)}")
    frame = features[list(NEEDS[:-1])].copy()
    for column, interval, factor, floor, default in THRESHOLDS:
        frame[column] = _threshold(features[interval], getattr(cfg, factor),
                                   getattr(cfg, floor), getattr(cfg, default))  # fmt: skip
    first = pd.to_datetime(features["first_purchase_at"], utc=True)
    frame["days_since_first_purchase"] = ((as_of - first).dt.total_seconds() / 86_400).to_numpy(
        np.float64, na_value=np.nan
    )
    rules = stage_rules(cfg)
    conditions = [evaluate(rule, frame) for rule in rules]
    stage = np.select(conditions, [rule.name for rule in rules], DEFAULT_STAGE)
    return pd.Series(stage, index=features.index, dtype=pd.StringDtype("pyarrow"))


def _threshold(interval: pd.Series, factor: float, floor: float, default: float) -> np.ndarray:
    gap = interval.to_numpy(np.float64)
    return np.where(np.isnan(gap), default, np.maximum(floor, factor * gap))
