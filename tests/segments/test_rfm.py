from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from segments.rfm import RFM_GRID, RFM_SEGMENTS, quintile_scores, rfm_segment_names, score_rfm


def test_distinct_values_fall_into_equal_quintiles() -> None:
    assert quintile_scores(np.arange(1, 11)).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_ties_share_the_score_of_their_average_rank_whatever_the_order() -> None:
    values = np.array([1, 1, 1, 1, 1, 1, 2, 3, 4, 5])  # six tied at the bottom: ranks 1-6
    scores = quintile_scores(values)
    assert scores.tolist() == [2, 2, 2, 2, 2, 2, 4, 4, 5, 5]  # average rank 3.5 -> ceil(1.75)
    shuffled = np.random.default_rng(1).permutation(len(values))
    assert quintile_scores(values[shuffled]).tolist() == scores[shuffled].tolist()


def test_more_recent_purchasers_get_higher_r_and_prospects_get_zero() -> None:
    features = pd.DataFrame({
        "recency_days": [1.0, 50.0, 200.0, 10.0, 5.0, np.nan],
        "frequency": [1, 2, 3, 4, 5, 0],
        "monetary": [10.0, 20.0, 30.0, 40.0, 50.0, 0.0],
    })  # fmt: skip
    out = score_rfm(features)
    assert out["r_score"].tolist() == [5, 2, 1, 3, 4, 0]
    assert out["f_score"].tolist() == [1, 2, 3, 4, 5, 0]
    assert out["rfm_segment"].iloc[-1] == ""
    assert out["rfm_segment"].iloc[4] == "Champions"  # R4 F5 M5


def test_grid_is_total_and_uses_every_named_segment() -> None:
    used = {name for row in RFM_GRID.values() for name in row}
    assert used == set(RFM_SEGMENTS) and len(RFM_SEGMENTS) == 11
    r, f, m = np.meshgrid(np.arange(1, 6), np.arange(1, 6), np.arange(1, 6))
    names = rfm_segment_names(r.ravel(), f.ravel(), m.ravel())
    assert set(names) == set(RFM_SEGMENTS)


@pytest.mark.parametrize(
    ("r", "f", "m", "name"),
    [(5, 5, 5, "Champions"), (1, 1, 1, "Lost"), (1, 5, 5, "Cannot Lose Them"),
     (5, 1, 1, "New"), (4, 1, 1, "Promising"), (2, 4, 3, "At Risk"), (3, 3, 3, "Need Attention"),
     (3, 1, 2, "About to Sleep"), (2, 1, 1, "Hibernating"), (3, 5, 4, "Loyal"),
     (5, 2, 3, "Potential Loyalist")],
)  # fmt: skip
def test_named_cells(r: int, f: int, m: int, name: str) -> None:
    assert rfm_segment_names(np.array([r]), np.array([f]), np.array([m]))[0] == name


def test_nan_values_are_refused() -> None:
    with pytest.raises(InvalidInput):
        quintile_scores(np.array([1.0, np.nan]))
