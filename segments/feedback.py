"""Feedback segments for service recovery, from each customer's latest survey answers.

The bands are `contracts.schema`'s (`NPS_BANDS`, `SURVEY_BANDS`), high = good on every scale:
- NPS (0-10): promoter 9-10, passive 7-8, detractor 0-6 (the standard NPS bands).
- CSAT (1-5): unhappy when the latest score is in the unhappy band, 1-2.
- CES (1-7, 7 = very easy): high effort when the latest score is in the unhappy band, 1-3.
Customers who never answered a survey are in none of its segments.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from contracts.schema import NPS_BANDS, SURVEY_BANDS

NPS_GROUPS: Final = ("promoter", "passive", "detractor")


def nps_groups(nps_latest: pd.Series | np.ndarray) -> np.ndarray:
    """'promoter' | 'passive' | 'detractor' per customer, '' without an NPS answer."""
    score = np.asarray(nps_latest, dtype=np.float64)
    out = np.full(len(score), "", dtype=object)
    for group in NPS_GROUPS:
        low, high = NPS_BANDS[group]
        out[(score >= low) & (score <= high)] = group
    return out


def unhappy(survey: str, latest: pd.Series | np.ndarray) -> np.ndarray:
    """Whether each latest score lies in the survey's unhappy band (False: none given)."""
    score = np.asarray(latest, dtype=np.float64)
    low, high = SURVEY_BANDS[survey][0]
    return (score >= low) & (score <= high)


def score_feedback(features: pd.DataFrame) -> pd.DataFrame:
    """nps_group, csat_unhappy and ces_high_effort columns from the latest-score features."""
    missing = [c for c in ("nps_latest", "csat_latest", "ces_latest") if c not in features]
    if missing:
        raise InvalidInput(f"features lack survey column(s): {', '.join(missing)}")
    return pd.DataFrame(
        {
            "nps_group": pd.Series(
                nps_groups(features["nps_latest"]),
                index=features.index,
                dtype="string[pyarrow]",
            ),
            "csat_unhappy": unhappy("csat", features["csat_latest"]),
            "ces_high_effort": unhappy("ces", features["ces_latest"]),
        },
        index=features.index,
    )
