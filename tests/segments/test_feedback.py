from __future__ import annotations

import numpy as np
import pandas as pd

from segments.feedback import nps_groups, score_feedback


def test_nps_bands_at_their_boundaries() -> None:
    scores = np.array([0, 6, 7, 8, 9, 10, np.nan])
    assert nps_groups(scores).tolist() == [
        "detractor", "detractor", "passive", "passive", "promoter", "promoter", "",
    ]  # fmt: skip


def test_unhappy_csat_and_high_effort_ces() -> None:
    # CES 7 = "very easy" (the survey contract): high effort is the low end, 1-3
    features = pd.DataFrame({
        "nps_latest": [np.nan] * 6,
        "csat_latest": [1, 2, 3, 5, np.nan, 4],
        "ces_latest": [4, 5, 7, np.nan, 1, 3],
    })  # fmt: skip
    out = score_feedback(features)
    assert out["csat_unhappy"].tolist() == [True, True, False, False, False, False]
    assert out["ces_high_effort"].tolist() == [False, False, False, False, True, True]
