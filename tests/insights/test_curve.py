"""The emotion curve follows the journey order, counts what it averages, and its intervals
cover the truth at the stated rate."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from insights.curve import emotion_curve, mean_interval

STAGES = ["before_purchase", "purchase_and_use", "after_use"]


def test_stages_come_in_journey_order_with_known_values():
    frame = pd.DataFrame(
        {
            "stage": ["after_use", "after_use", "before_purchase", "nowhere", "after_use"],
            "survey": ["nps", "csat", "ces", "nps", "nps"],
            "score": [10, 1, 4, 0, 5],  # satisfaction 1.0, 0.0, 0.5, (left out), 0.5
            "sentiment": [0.8, -0.6, np.nan, -1.0, np.nan],
        }
    )
    curve = emotion_curve(frame, STAGES)
    assert [c["stage"] for c in curve] == STAGES
    before, during, after = curve
    assert before["n"] == 1 and before["satisfaction"] == 0.5 and before["sentiment"] is None
    assert before["satisfaction_low"] is None  # one answer: no interval
    assert during["n"] == 0 and during["satisfaction"] is None and during["n_sentiment"] == 0
    assert after["n"] == 3 and after["satisfaction"] == 0.5
    assert after["n_sentiment"] == 2 and after["sentiment"] == 0.1
    assert after["sentiment_low"] < 0.1 < after["sentiment_high"]
    json.dumps(curve, allow_nan=False)


def test_missing_columns_give_an_empty_but_complete_curve():
    curve = emotion_curve(pd.DataFrame({"stage": ["after_use"]}), STAGES)
    assert curve[2]["n"] == 1 and curve[2]["satisfaction"] is None and curve[2]["sentiment"] is None
    assert [c["n"] for c in emotion_curve(pd.DataFrame(), STAGES)] == [0, 0, 0]


def test_mean_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    truth = 0.2  # skewed bounded values, as sentiment is: 0.6 w.p. 0.5, else -0.2
    draws = np.where(rng.random((1000, 60)) < 0.5, 0.6, -0.2)
    covered = []
    for row in draws:
        _, low, high = mean_interval(row)
        covered.append(low <= truth <= high)
    assert 0.93 <= np.mean(covered) <= 0.97
