"""Live scores from score histograms agree with the batch estimators on the raw answers."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from insights.live import Count, live_days, live_scores
from insights.stats import METRICS, estimate


def test_live_days_start_after_the_batch_and_cover_at_most_a_week() -> None:
    today = date(2026, 3, 10)
    assert live_days(today, date(2026, 3, 8)) == ["2026-03-09", "2026-03-10"]
    assert live_days(today, date(2026, 3, 10)) == []
    assert live_days(today, None) == [f"2026-03-{d:02d}" for d in range(4, 11)]
    assert live_days(today, date(2025, 1, 1))[0] == "2026-03-04"


def test_histogram_scores_equal_the_estimators_on_the_raw_answers() -> None:
    rng = np.random.default_rng(3)
    raw = {"nps": rng.integers(0, 11, 300), "csat": rng.integers(1, 6, 200),
           "ces": rng.integers(1, 8, 150)}  # fmt: skip
    counts = [
        Count(survey, int(score), "checkout", int(n))
        for survey, scores in raw.items()
        for score, n in zip(*np.unique(scores, return_counts=True), strict=True)
    ]
    out = live_scores(counts, {"checkout": "purchase"}, ["before", "purchase", "after"])
    [row] = out["touchpoints"]
    assert row["responses"] == 650 and row["stage"] == "purchase"
    for name, m in METRICS.items():
        v = m.values(raw[m.survey])
        truth = estimate(m, [len(v)], [v.sum()], [(v * v).sum()])
        assert row[name]["n"] == len(v)
        assert row[name]["value"] == pytest.approx(truth.value[0], abs=0.01)
        assert row[name]["low"] == pytest.approx(truth.low[0], abs=0.01)
        assert row[name]["high"] == pytest.approx(truth.high[0], abs=0.01)
    assert out["stages"][0]["nps"] == row["nps"]


def test_stages_come_in_journey_order_with_unmapped_touchpoints_last() -> None:
    counts = [Count("nps", 10, "support", 3), Count("nps", 0, "kiosk", 2),
              Count("nps", 9, "search", 1)]  # fmt: skip
    stage_of = {"support": "after", "search": "before"}
    out = live_scores(counts, stage_of, ["before", "during", "after"])
    assert [s["stage"] for s in out["stages"]] == ["before", "after", ""]
    assert [t["touchpoint"] for t in out["touchpoints"]] == ["kiosk", "search", "support"]
    assert out["stages"][2]["nps"]["value"] == -100.0
    assert "csat" not in out["stages"][0]  # no CSAT answers: no CSAT cell
