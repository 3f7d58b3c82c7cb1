"""How a survey score reads for the text analysis: satisfaction on 0–1 and the two bands
(detractor-like, promoter-like) that label comments for weak supervision and theme lift.

The survey ranges come from `contracts.schema.SURVEY_RANGES`, the bands from
`contracts.schema.SURVEY_BANDS`, with high = good on every scale (CES: 5–7 is easy):

| survey | negative (detractor-like) | positive (promoter-like) |
|---|---|---|
| nps 0–10 | 0–6 (detractors) | 9–10 (promoters) |
| csat 1–5 | 1–2 | 4–5 |
| ces 1–7 | 1–3 | 5–7 |

Scores between the bands (NPS passives, CSAT 3, CES 4) are neither.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import numpy as np
import pandas as pd

from contracts.schema import SURVEY_BANDS, SURVEY_RANGES

# survey -> (highest negative score, lowest positive score)
BANDS: Final[Mapping[str, tuple[int, int]]] = MappingProxyType(
    {survey: (unhappy[1], happy[0]) for survey, (unhappy, happy) in SURVEY_BANDS.items()}
)
NEGATIVE: Final = -1
NEUTRAL: Final = 0
POSITIVE: Final = 1


def _surveys_scores(survey: object, score: object) -> tuple[np.ndarray, np.ndarray]:
    surveys = pd.Series(survey, dtype=object).astype(str).to_numpy()
    scores = pd.to_numeric(pd.Series(score), errors="coerce").to_numpy(np.float64)
    if len(surveys) != len(scores):
        raise ValueError("survey and score differ in length")
    return surveys, scores


def satisfaction(survey: object, score: object) -> np.ndarray:
    """Each score on 0–1 by its survey's range (NaN for an unknown survey or a missing or
    out-of-range score)."""
    surveys, scores = _surveys_scores(survey, score)
    out = np.full(len(scores), np.nan)
    for name, (low, high) in SURVEY_RANGES.items():
        rows = (surveys == name) & (scores >= low) & (scores <= high)
        out[rows] = (scores[rows] - low) / (high - low)
    return out


def band(survey: object, score: object) -> np.ndarray:
    """NEGATIVE / NEUTRAL / POSITIVE per response (int8); NEUTRAL also for unknown surveys
    and missing scores."""
    surveys, scores = _surveys_scores(survey, score)
    out = np.zeros(len(scores), dtype=np.int8)
    for name, (negative_max, positive_min) in BANDS.items():
        low, high = SURVEY_RANGES[name]
        known = (surveys == name) & (scores >= low) & (scores <= high)
        out[known & (scores <= negative_max)] = NEGATIVE
        out[known & (scores >= positive_min)] = POSITIVE
    return out
