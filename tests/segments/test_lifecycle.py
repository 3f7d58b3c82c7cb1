from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from segments.lifecycle import LifecycleConfig, assign_lifecycle

AS_OF = pd.Timestamp("2024-06-30", tz="UTC")


def _row(recency: float, frequency: int, first_days_ago: float, interval: float = np.nan,
         last_gap: float = np.nan, prior: float = np.nan) -> dict[str, object]:  # fmt: skip
    first = AS_OF - pd.Timedelta(days=first_days_ago) if frequency else pd.NaT
    return {
        "recency_days": recency,
        "frequency": frequency,
        "first_purchase_at": first,
        "interval_days": interval,
        "last_gap_days": last_gap,
        "prior_interval_days": prior,
    }


def test_stages_follow_the_documented_precedence() -> None:
    rows = {
        "prospect": _row(np.nan, 0, 0),
        "new": _row(3, 1, 3),
        "one_order_active": _row(60, 1, 60),
        "one_order_lapsing": _row(100, 1, 100),  # default lapse 90 days
        "one_order_churned": _row(200, 1, 200),  # default churn 180 days
        "weekly_buyer_lapsing": _row(20, 10, 300, interval=7, last_gap=7, prior=7),  # > 14
        "weekly_buyer_churned": _row(40, 10, 300, interval=7, last_gap=7, prior=7),  # > 30
        "monthly_buyer_active": _row(40, 5, 300, interval=30, last_gap=30, prior=30),  # < 60
        "came_back": _row(2, 4, 400, interval=10, last_gap=200, prior=10),  # gap > 40
    }
    features = pd.DataFrame(list(rows.values()), index=list(rows))
    stages = assign_lifecycle(features, as_of=AS_OF)
    expected = ["prospect", "new", "active", "lapsing", "churned", "lapsing", "churned", "active",
                "reactivated"]  # fmt: skip
    assert stages.tolist() == expected


def test_thresholds_come_from_the_customers_own_interval() -> None:
    fast = _row(45, 6, 300, interval=10, last_gap=10, prior=10)
    slow = _row(45, 6, 300, interval=60, last_gap=60, prior=60)
    stages = assign_lifecycle(pd.DataFrame([fast, slow]), as_of=AS_OF)
    assert stages.tolist() == ["churned", "active"]


def test_bad_config_and_missing_columns_are_refused() -> None:
    with pytest.raises(InvalidInput):
        LifecycleConfig(lapse_factor=5, churn_factor=2)
    with pytest.raises(InvalidInput, match="interval_days"):
        assign_lifecycle(pd.DataFrame({"frequency": [1]}), as_of=AS_OF)
