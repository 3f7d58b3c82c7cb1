"""insights.scores against known truth: false flags under no change, a planted NPS drop,
and the table's cells, periods, segments and insufficient marks on hand-counted data."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from insights.scores import prepare_responses, score_table, tabulate, with_metric

# NPS 0..10 of a typical programme: 45% promoters, 15% detractors (NPS +30)
TYPICAL = np.array([0.03, 0.01, 0.02, 0.02, 0.02, 0.02, 0.03, 0.1, 0.3, 0.2, 0.25])
TOUCHPOINTS = [f"tp{k}" for k in range(10)]
MONDAY = pd.Timestamp("2026-01-05", tz="UTC")


def eight_points_worse(probs: np.ndarray) -> np.ndarray:
    """8% of responses move from promoter (10) to passive (8): NPS exactly 8 points lower."""
    worse = probs.copy()
    worse[10] -= 0.08
    worse[8] += 0.08
    return worse


@functools.cache
def skeleton(n: int, weeks: int) -> pd.DataFrame:
    """Everything but the scores: n answers per touchpoint per week, Monday to Sunday."""
    rows = len(TOUCHPOINTS) * weeks * n
    week = np.repeat(np.arange(weeks), len(TOUCHPOINTS) * n)
    return pd.DataFrame(
        {
            "response_id": np.arange(rows).astype(str),
            "customer_id": (np.arange(rows) % 997).astype(str),
            "survey": "nps",
            "timestamp": MONDAY + pd.to_timedelta(week * 7 + (np.arange(rows) % 7), "D"),
            "touchpoint": np.tile(np.repeat(np.asarray(TOUCHPOINTS, dtype=object), n), weeks),
            "week": week,
        }
    )


def draw_scores(rng: np.random.Generator, n: int, weeks: int, dropped: bool) -> np.ndarray:
    """NPS answers from TYPICAL in `skeleton` order; with `dropped`, tp0 is 8 points worse
    in the last week. Drawn by inverse CDF so one draw is a handful of numpy calls."""
    frame = skeleton(n, weeks)
    worse_rows = dropped & (frame["touchpoint"] == "tp0") & (frame["week"] == weeks - 1)
    u = rng.random(len(frame))
    return np.where(
        worse_rows,
        np.searchsorted(np.cumsum(eight_points_worse(TYPICAL)), u, side="right"),
        np.searchsorted(np.cumsum(TYPICAL), u, side="right"),
    ).clip(0, 10)


def responses(rng: np.random.Generator, n: int, weeks: int, dropped: bool) -> pd.DataFrame:
    return skeleton(n, weeks).assign(score=draw_scores(rng, n, weeks, dropped))


def drawn_tables(
    rng: np.random.Generator, n: int, weeks: int, dropped: bool, draws: int
) -> Iterator[pd.DataFrame]:
    """Score tables by touchpoint (and week, when there are several) of `draws` independent
    draws: prepared once, then each draw's answer values go into the prepared frame."""
    prepared = prepare_responses(responses(rng, n, weeks, dropped), metric="nps")
    for _ in range(draws):
        values = prepared.metric.values(draw_scores(rng, n, weeks, dropped))
        frame = prepared.frame.assign(v=values, v2=values * values)
        yield tabulate(replace(prepared, frame=frame), by=["touchpoint"],
                       period="week" if weeks > 1 else None)  # fmt: skip


def test_false_flags_stay_under_5_percent_of_tables_with_no_change() -> None:
    draws, any_flag, any_raw = 1_000, 0, 0
    for table in drawn_tables(np.random.default_rng(11), 100, 4, False, draws):
        any_flag += bool((table["change_flag"] | table["rest_flag"]).any())
        any_raw += bool(((table["change_p"] < 0.05) | (table["rest_p"] < 0.05)).any())
    # 70 comparisons per table: uncorrected, nearly every table cries wolf somewhere
    assert any_raw / draws > 0.9
    assert any_flag / draws <= 0.05


def test_planted_eight_point_nps_drop_is_found_in_90_percent_of_draws() -> None:
    """At n = 1,600 answers per touchpoint. At n = 400 the same drop is flagged in about a
    third of draws only (31.5%, bench/insights_power.py): a typical NPS's promoter/detractor
    variance (≈ 0.5) gives a standard error near 3.6 points at n = 400, so no honest test
    separates 8 points from noise 9 times in 10 there."""
    draws, found = 200, 0
    for table in drawn_tables(np.random.default_rng(12), 1_600, 1, True, draws):
        row = table.set_index("touchpoint").loc["tp0"]
        found += bool(row["rest_flag"] and row["value"] < row["rest"])
    assert found / draws >= 0.9


def test_cells_hold_hand_counted_values_and_mark_small_cells_insufficient() -> None:
    frame = pd.DataFrame(
        {
            "response_id": [f"r{i}" for i in range(8)],
            "customer_id": ["a", "a", "b", "c", "c", "d", "e", "e"],
            "survey": ["nps"] * 6 + ["csat"] * 2,
            "score": [10, 9, 3, 8, 10, 0, 5, 1],
            "timestamp": pd.to_datetime(["2026-01-05", "2026-01-06", "2026-01-12",
                                         "2026-01-13", "2026-02-02", "2026-02-03",
                                         "2026-01-05", "2026-01-05"], utc=True),
            "touchpoint": ["web", "web", "web", "app", "app", "", "web", "web"],
        }
    )  # fmt: skip
    table = score_table(frame, metric="nps", by=["touchpoint"], min_n=3).set_index("touchpoint")
    # web: 10, 9, 3 → 2 promoters, 1 detractor of 3; app: 8, 10 → 1 promoter of 2
    assert table.loc["web", "value"] == pytest.approx(100 / 3)
    assert table.loc["app", "value"] == pytest.approx(50.0)
    assert table.loc["", "n"] == 1  # an unknown touchpoint is a cell of its own, not dropped
    assert table["insufficient"].tolist() == [True, True, False]  # "", app, web
    assert table.loc["web", "rest"] == pytest.approx(0.0)  # app + "": 8, 10, 0
    weekly = score_table(frame, metric="nps", by=["touchpoint"], period="week", min_n=1)
    web = weekly[weekly["touchpoint"] == "web"].set_index("period")
    assert list(web.index) == ["2026-01-05", "2026-01-12"]  # weeks start on Monday
    assert web.loc["2026-01-12", "previous"] == pytest.approx(100.0)
    assert web.loc["2026-01-12", "change"] == pytest.approx(-200.0)
    monthly = score_table(frame, metric="csat", by=[], period="month")
    assert monthly["period"].tolist() == ["2026-01-01"] and monthly["value"].tolist() == [50.0]


def test_a_customer_in_two_segments_counts_in_both_and_once_in_the_rest() -> None:
    frame = responses(np.random.default_rng(13), 10, 1, False)
    ids = frame["customer_id"].unique()
    memberships = pd.DataFrame(
        {"customer_id": np.concatenate([ids, ids[:100]]),
         "segment": ["everyone"] * len(ids) + ["first-hundred"] * 100}
    )  # fmt: skip
    table = score_table(frame, metric="nps", by=["segment"], memberships=memberships)
    table = table.set_index("segment")
    assert table.loc["everyone", "n"] == len(frame)
    expected = frame["customer_id"].isin(ids[:100]).sum()
    assert table.loc["first-hundred", "n"] == expected
    assert table.loc["first-hundred", "rest_n"] == len(frame) - expected


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"by": ["colour"]}, "by"), ({"by": ["segment"]}, "by"), ({"period": "hour"}, "period"),
     ({"by": ["touchpoint", "stage", "tier"]}, "by"), ({"metric": "happiness"}, "metric")],
)  # fmt: skip
def test_bad_parameters_name_their_field(kwargs: dict[str, object], field: str) -> None:
    args: dict[str, object] = {"metric": "nps", "by": ["touchpoint"], **kwargs}
    with pytest.raises(InvalidInput) as info:
        score_table(responses(np.random.default_rng(0), 2, 1, False), **args)  # type: ignore[arg-type]
    assert info.value.details["field"] == field


def test_a_sparse_grid_of_cells_counts_the_same_as_pandas() -> None:
    """~1,170 touchpoints × 1,000 segments: more possible cells than counting over them all
    is worth, so cells are found by sorting; the counts must still be pandas' counts."""
    rng = np.random.default_rng(14)
    n = 3_000
    frame = pd.DataFrame(
        {"response_id": np.arange(n).astype(str), "customer_id": (np.arange(n) % 500).astype(str),
         "survey": "nps", "score": rng.integers(0, 11, n), "timestamp": MONDAY,
         "touchpoint": rng.integers(0, 1_300, n).astype(str)}
    )  # fmt: skip
    memberships = pd.DataFrame(
        {
            "customer_id": (np.arange(1_000) % 500).astype(str),
            "segment": np.arange(1_000).astype(str),
        }
    )
    table = score_table(frame, metric="nps", by=["touchpoint", "segment"], memberships=memberships)
    joined = frame.merge(memberships, on="customer_id")
    expected = joined.groupby(["touchpoint", "segment"]).size()
    got = table.set_index(["touchpoint", "segment"])["n"]
    assert got.sort_index().to_dict() == expected.sort_index().to_dict()


def test_another_metric_of_the_same_survey_reads_the_same_preparation() -> None:
    frame = responses(np.random.default_rng(15), 20, 2, False).assign(survey="csat")
    frame["score"] = frame["score"] % 5 + 1
    prepared = prepare_responses(frame, metric="csat")
    shared = tabulate(with_metric(prepared, "csat_mean"), by=["touchpoint"], period="week")
    alone = score_table(frame, metric="csat_mean", by=["touchpoint"], period="week")
    means = frame.groupby(["touchpoint", "week"])["score"].mean().sort_index().tolist()
    assert shared["value"].tolist() == pytest.approx(means)
    assert alone["value"].tolist() == pytest.approx(means)
    with pytest.raises(InvalidInput):
        with_metric(prepared, "nps")
