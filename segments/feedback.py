"""Feedback segments for service recovery, from each customer's latest survey answers.

- NPS (0-10): promoter 9-10, passive 7-8, detractor 0-6 (the standard NPS bands).
- CSAT (1-5): unhappy when the latest score is 1 or 2.
- CES (1-7): read as an effort scale (1 = very low effort, 7 = very high effort); high
  effort when the latest score is 5 or more.
Customers who never answered a survey are in none of its segments.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput

NPS_GROUPS: Final = ("promoter", "passive", "detractor")
# (group, lowest score in it), highest band first: both engines read this table.
NPS_BANDS: Final = (("promoter", 9), ("passive", 7), ("detractor", 0))
UNHAPPY_CSAT_MAX: Final = 2
HIGH_EFFORT_CES_MIN: Final = 5


def nps_groups(nps_latest: pd.Series | np.ndarray) -> np.ndarray:
    """'promoter' | 'passive' | 'detractor' per customer, '' without an NPS answer."""
    score = np.asarray(nps_latest, dtype=np.float64)
    out = np.full(len(score), "", dtype=object)
    with np.errstate(invalid="ignore"):
        for group, lowest in reversed(NPS_BANDS):  # higher bands overwrite lower ones
            out[score >= lowest] = group
    return out


def score_feedback(features: pd.DataFrame) -> pd.DataFrame:
    """nps_group, csat_unhappy and ces_high_effort columns from the latest-score features."""
    missing = [c for c in ("nps_latest", "csat_latest", "ces_latest") if c not in features]
    if missing:
        raise InvalidInput(f"features lack survey column(s): {', '.join(missing)}")
    csat = features["csat_latest"].to_numpy(np.float64)
    ces = features["ces_latest"].to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        return pd.DataFrame(
            {
                "nps_group": pd.Series(
                    nps_groups(features["nps_latest"]),
                    index=features.index,
                    dtype="string[pyarrow]",
                ),
                "csat_unhappy": csat <= UNHAPPY_CSAT_MAX,
                "ces_high_effort": ces >= HIGH_EFFORT_CES_MIN,
            },
            index=features.index,
        )
