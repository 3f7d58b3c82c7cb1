"""The emotion curve: how customers feel at each journey stage, in journey order.

Per stage: mean comment sentiment (−1..1, from `insights.sentiment`) over the responses
with a scored comment, and mean satisfaction (0–1: every survey's score on its own range,
`insights.scale.satisfaction`) over all responses; each with its n and a 95% t interval.
A stage with no responses is still listed, with n = 0 and no values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from insights.scale import satisfaction


def mean_interval(values: np.ndarray) -> tuple[float | None, float | None, float | None]:
    """Mean and its 95% t interval of the finite values; None where undefined (no values,
    or one value for the interval)."""
    finite = values[np.isfinite(values)]
    if len(finite) == 0:
        return None, None, None
    mean = float(finite.mean())
    if len(finite) < 2:
        return mean, None, None
    half = float(stats.t.ppf(0.975, len(finite) - 1) * finite.std(ddof=1) / math.sqrt(len(finite)))
    return mean, mean - half, mean + half


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def emotion_curve(
    responses_with_sentiment: pd.DataFrame, stages: Sequence[str]
) -> list[dict[str, Any]]:
    """One dict per stage of `stages` (in that order): stage, n, satisfaction,
    satisfaction_low, satisfaction_high, n_sentiment, sentiment, sentiment_low,
    sentiment_high. Input columns: stage, survey, score, and sentiment (NaN where a
    response has no comment); responses whose stage is not in `stages` are left out here
    (the journey summary reports unmapped touchpoints)."""
    frame = responses_with_sentiment
    n_rows = len(frame)
    stage_of = (
        frame["stage"].astype(object).fillna("").astype(str).to_numpy()
        if "stage" in frame.columns
        else np.full(n_rows, "", dtype=object)
    )
    if {"survey", "score"} <= set(frame.columns):
        happy = satisfaction(frame["survey"].to_numpy(), frame["score"].to_numpy())
    else:
        happy = np.full(n_rows, np.nan)
    feeling = (
        pd.to_numeric(frame["sentiment"], errors="coerce").to_numpy(np.float64)
        if "sentiment" in frame.columns
        else np.full(n_rows, np.nan)
    )
    curve = []
    for stage in stages:
        rows = stage_of == stage
        sat, sat_low, sat_high = mean_interval(happy[rows])
        sen, sen_low, sen_high = mean_interval(feeling[rows])
        curve.append(
            {
                "stage": stage,
                "n": int(rows.sum()),
                "satisfaction": _rounded(sat),
                "satisfaction_low": _rounded(sat_low),
                "satisfaction_high": _rounded(sat_high),
                "n_sentiment": int(np.isfinite(feeling[rows]).sum()),
                "sentiment": _rounded(sen),
                "sentiment_low": _rounded(sen_low),
                "sentiment_high": _rounded(sen_high),
            }
        )
    return curve
