"""RFM scores (1-5 quintiles over purchasers) and the named RFM segments.

Scores: each purchaser gets `ceil(5 * rank / n)` where `rank` is the 1-based rank of its
value among the n purchasers, ascending for F and M and by *descending* recency for R
(more recent = higher). Ties: equal values share the average of their ranks, so two
customers with the same value always get the same score, whatever their order or ids; a
large tie group (most customers buy once) lands in the quintile of its middle.
Customers without a purchase get score 0 and no RFM segment.

Segments come from the grid below over R and FM = ceil((F + M) / 2), the usual
marketing RFM names; every (R, FM) cell maps to exactly one segment.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput

RFM_SEGMENTS: Final = (
    "Champions",
    "Loyal",
    "Potential Loyalist",
    "New",
    "Promising",
    "Need Attention",
    "About to Sleep",
    "At Risk",
    "Cannot Lose Them",
    "Hibernating",
    "Lost",
)

# RFM_GRID[r][fm - 1]: rows R = 5 (bought most recently) .. 1, columns FM = 1 .. 5.
RFM_GRID: Final[dict[int, tuple[str, str, str, str, str]]] = {
    5: ("New", "Potential Loyalist", "Potential Loyalist", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalist", "Potential Loyalist", "Loyal", "Champions"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal", "Loyal"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Cannot Lose Them"),
    1: ("Lost", "Lost", "At Risk", "Cannot Lose Them", "Cannot Lose Them"),
}

RFM_DESCRIPTIONS: Final = {
    "Champions": "bought recently, buy often and spend the most",
    "Loyal": "buy regularly and spend well",
    "Potential Loyalist": "recent customers with average frequency and spend",
    "New": "bought very recently, once or twice, small spend",
    "Promising": "recent buyers with low frequency and spend",
    "Need Attention": "middling recency, frequency and spend",
    "About to Sleep": "below-average recency, low frequency and spend",
    "At Risk": "used to buy often and well, not for a while",
    "Cannot Lose Them": "were among the best customers, not seen for a long time",
    "Hibernating": "last purchase long ago, low frequency and spend",
    "Lost": "lowest recency, frequency and spend",
}


def quintile_scores(values: np.ndarray | pd.Series) -> np.ndarray:
    """1-5 scores by average rank (ties share a score): `ceil(5 * rank / n)`, ascending."""
    array = np.asarray(values, dtype=np.float64)
    if np.isnan(array).any():
        raise InvalidInput("cannot score NaN values (score purchasers only)")
    n = len(array)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    # rank(method="average") * 2 is the integer lo + hi, so the ceiling below is exact.
    twice_rank = (pd.Series(array).rank(method="average").to_numpy() * 2).round().astype(np.int64)
    return (5 * twice_rank + 2 * n - 1) // (2 * n)


def score_rfm(features: pd.DataFrame) -> pd.DataFrame:
    """r_score, f_score, m_score (0 for prospects) and rfm_segment ('' for prospects)."""
    missing = [c for c in ("recency_days", "frequency", "monetary") if c not in features]
    if missing:
        raise InvalidInput(f"features lack column(s) for RFM: {', '.join(missing)}")
    buyers = (features["frequency"].to_numpy() > 0) & features["recency_days"].notna().to_numpy()
    n = len(features)
    scores = {name: np.zeros(n, dtype=np.int64) for name in ("r_score", "f_score", "m_score")}
    scores["r_score"][buyers] = quintile_scores(-features["recency_days"].to_numpy()[buyers])
    scores["f_score"][buyers] = quintile_scores(features["frequency"].to_numpy()[buyers])
    scores["m_score"][buyers] = quintile_scores(features["monetary"].to_numpy()[buyers])
    out = pd.DataFrame(scores, index=features.index)
    out["rfm_segment"] = pd.Series(
        rfm_segment_names(scores["r_score"], scores["f_score"], scores["m_score"]),
        index=features.index,
        dtype=pd.StringDtype("pyarrow"),
    )
    return out


def rfm_segment_names(r: np.ndarray, f: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Segment name per customer from the grid; '' where a score is 0 (no purchase)."""
    table = np.full((6, 6), "", dtype=object)
    for r_score, row in RFM_GRID.items():
        table[r_score, 1:] = row
    fm = (np.asarray(f) + np.asarray(m) + 1) // 2
    names = table[np.asarray(r), fm]
    names[(np.asarray(f) == 0) | (np.asarray(m) == 0)] = ""
    return np.asarray(names, dtype=object)
