"""Every reader of survey scores agrees on their direction (high = good; CES 7 = very easy)
and on the bands: customers built to be unhappy, or happy, on each survey are read so by the
segments, the follow-up cases, the insights bands and the CX metrics alike."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.schema import SURVEY_RANGES
from insights.followup import opens_case
from insights.followup_config import CaseConfig
from insights.scale import NEGATIVE, POSITIVE, band, satisfaction
from insights.stats import METRICS
from segments.feedback import score_feedback

# By construction, from the survey wording: (survey, unhappy answers, happy answers).
# CES asks "how easy was it?": 1 very difficult .. 7 very easy.
KNOWN = [
    ("nps", [0, 3, 6], [9, 10]),
    ("csat", [1, 2], [4, 5]),
    ("ces", [1, 2, 3], [5, 6, 7]),
]
SEGMENT_FLAG = {"csat": "csat_unhappy", "ces": "ces_high_effort"}
GOOD_METRIC = {"nps": "nps", "csat": "csat", "ces": "ces_easy"}


def latest(survey: str, scores: list[int]) -> pd.DataFrame:
    columns = {f"{s}_latest": [np.nan] * len(scores) for s in SURVEY_RANGES}
    columns[f"{survey}_latest"] = [float(v) for v in scores]
    return pd.DataFrame(columns)


@pytest.mark.parametrize(("survey", "bad", "good"), KNOWN)
def test_segments_flag_the_unhappy_and_only_them(survey, bad, good):
    out = score_feedback(latest(survey, bad + good))
    flags = (
        (out["nps_group"] == "detractor").tolist()
        if survey == "nps"
        else out[SEGMENT_FLAG[survey]].tolist()
    )
    assert flags == [True] * len(bad) + [False] * len(good)


@pytest.mark.parametrize(("survey", "bad", "good"), KNOWN)
def test_cases_open_for_the_unhappy_and_only_them(survey, bad, good):
    config = CaseConfig()  # the defaults
    opened = [opens_case({"survey": survey, "score": s}, config) is not None for s in bad + good]
    assert opened == [True] * len(bad) + [False] * len(good)


@pytest.mark.parametrize(("survey", "bad", "good"), KNOWN)
def test_insights_bands_and_satisfaction_read_high_as_good(survey, bad, good):
    bands = band([survey] * len(bad + good), bad + good)
    assert (bands[: len(bad)] == NEGATIVE).all() and (bands[len(bad) :] == POSITIVE).all()
    assert satisfaction([survey] * len(bad + good), bad + good)[-1] > 0.5
    assert max(satisfaction([survey] * len(bad), bad)) < min(
        satisfaction([survey] * len(good), good)
    )


@pytest.mark.parametrize(("survey", "bad", "good"), KNOWN)
def test_metrics_count_the_happy_as_good(survey, bad, good):
    metric = METRICS[GOOD_METRIC[survey]]
    assert (metric.values(good) > 0).all() and (metric.values(bad) <= 0).all()
    if survey == "ces":
        assert METRICS["ces"].values(good).mean() > METRICS["ces"].values(bad).mean()
