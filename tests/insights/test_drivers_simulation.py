"""insights.drivers against planted truth: driver order, noise drivers insignificant,
relative weights on orthogonal predictors, and mix/rate decomposition."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from insights.drivers import (
    decompose_change,
    driver_frame,
    importance_performance,
    key_drivers,
    relative_weights,
)

START = pd.Timestamp("2026-03-02", tz="UTC")
EFFECTS = {"checkout": 3.0, "delivery": 2.0, "support": 1.0, "search": 0.0}


def planted_feedback(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customers rate four touchpoints (CSAT 1-5, 85% answer each); a shared mood makes the
    first three ratings correlate; their NPS follows checkout > delivery > support, not
    search (rated independently of mood and of NPS), plus a small tier effect."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"c{i:05d}" for i in range(n)], dtype=object)
    mood = rng.standard_normal(n)
    tier = rng.integers(0, 5, n)
    latent = 0.5 * (tier - 2) / 1.4 + rng.standard_normal(n) * 1.2
    rows = []
    for k, (tp, effect) in enumerate(EFFECTS.items()):
        loading = 0.0 if tp == "search" else 0.6
        sat = (loading * mood + 0.8 * rng.standard_normal(n)).clip(-2, 2)
        csat = np.rint(3 + sat).astype(int)
        latent += effect * (csat - 3) / 1.0
        answered = rng.random(n) < 0.85
        rows.append(pd.DataFrame({"customer_id": ids[answered], "survey": "csat",
                                  "score": csat[answered], "touchpoint": tp,
                                  "timestamp": START + pd.Timedelta(hours=k)}))  # fmt: skip
    nps = np.clip(np.rint(7 + latent * 0.5), 0, 10).astype(int)
    day_after = START + pd.Timedelta(days=1)
    rows.append(pd.DataFrame({"customer_id": ids, "survey": "nps", "score": nps,
                              "touchpoint": "", "timestamp": day_after}))  # fmt: skip
    responses = pd.concat(rows, ignore_index=True)
    responses["response_id"] = [f"r{i}" for i in range(len(responses))]
    tiers = np.array(["none", "bronze", "silver", "gold", "platinum"], dtype=object)
    customers = pd.DataFrame({"customer_id": ids, "loyalty_tier": tiers[tier]})
    return responses, customers


def test_planted_driver_order_is_recovered_and_the_null_driver_is_insignificant() -> None:
    responses, customers = planted_feedback(4_000, seed=1)
    frame = driver_frame(responses, customers)
    assert len(frame) == 4_000
    drivers = key_drivers(frame, n_boot=200, seed=0).set_index("feature")
    order = [f"satisfaction:{tp}" for tp in ("checkout", "delivery", "support")]
    assert list(drivers.index[:3]) == order
    assert drivers.loc[order, "significant"].all()
    assert not drivers.loc["satisfaction:search", "significant"]
    assert drivers.loc["tier", "significant"]
    assert drivers["weight"].sum() == pytest.approx(1.0)
    assert (drivers["low"] <= drivers["weight"]).all() and (
        drivers["weight"] <= drivers["high"]
    ).all()
    assert 0 < drivers.attrs["r2"] < 1


def test_latest_nps_is_the_target_and_only_csat_and_ces_make_satisfaction() -> None:
    responses = pd.DataFrame(
        {"customer_id": ["a", "a", "b", "b", "b"], "survey": ["nps", "nps", "nps", "csat", "ces"],
         "score": [2, 9, 5, 5, 4], "touchpoint": ["app", "app", "app", "app", "app"],
         "response_id": ["1", "2", "3", "4", "5"],
         "timestamp": pd.to_datetime(["2026-01-02", "2026-01-01", "2026-01-01", "2026-01-01",
                                      "2026-01-01"], utc=True)}
    )  # fmt: skip
    customers = pd.DataFrame({"customer_id": ["a", "b"], "loyalty_tier": ["gold", "none"]})
    frame = driver_frame(responses, customers).set_index("customer_id")
    assert frame.loc["a", "nps"] == 2 and frame.loc["b", "nps"] == 5
    assert frame.loc["a", "tier"] == 3 and frame.loc["b", "tier"] == 0
    # a's NPS answers name the app but are the target, not a satisfaction rating
    assert np.isnan(frame.loc["a", "satisfaction:app"])
    assert frame.loc["b", "satisfaction:app"] == pytest.approx((1.0 + 0.5) / 2)  # CSAT 5, CES 4


def test_no_driver_is_significant_when_nps_is_independent_of_everything() -> None:
    rng = np.random.default_rng(7)
    responses, customers = planted_feedback(3_000, seed=7)
    nps = responses["survey"] == "nps"
    responses.loc[nps, "score"] = rng.integers(0, 11, int(nps.sum()))
    drivers = key_drivers(driver_frame(responses, customers), n_boot=200, seed=1)
    assert drivers["significant"].sum() <= 1  # five features at a 2.5% one-sided level
    assert drivers.attrs["r2"] < 0.01


def test_events_and_non_feedback_segments_become_features() -> None:
    responses, customers = planted_feedback(200, seed=2)
    ids = customers["customer_id"].to_numpy()
    events = pd.DataFrame(
        {"customer_id": [ids[0], ids[0], ids[1], ids[2]],
         "type": ["purchase", "purchase", "dismiss", "view"],
         "timestamp": pd.to_datetime(["2026-03-01"] * 3 + ["2025-01-01"], utc=True)}
    )  # fmt: skip
    memberships = pd.DataFrame(
        {"customer_id": list(ids[:50]) + list(ids[:80]),
         "segment": ["lifecycle-new"] * 50 + ["nps-promoter"] * 80}
    )  # fmt: skip
    frame = driver_frame(responses, customers, events=events, memberships=memberships)
    frame = frame.set_index("customer_id")
    assert frame.loc[ids[0], "recent_purchases"] == pytest.approx(np.log1p(2))
    assert frame.loc[ids[1], "dismissed_recommendations"] == pytest.approx(np.log1p(1))
    assert frame["segment:lifecycle-new"].sum() == 50
    assert not any(c.startswith("segment:nps-") for c in frame.columns)  # the target itself


def test_relative_weights_of_orthogonal_predictors_are_their_squared_correlations() -> None:
    rng = np.random.default_rng(3)
    x = np.linalg.qr(rng.standard_normal((500, 4)) - 0)[0]  # orthonormal columns
    x -= x.mean(0)
    y = x @ np.array([3.0, 2.0, 1.0, 0.0]) + 0.05 * rng.standard_normal(500)
    corr = np.corrcoef(np.column_stack([x, y]), rowvar=False)
    weights = relative_weights(corr)
    assert weights == pytest.approx(corr[:-1, -1] ** 2, abs=1e-3)
    design = np.column_stack([np.ones(500), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    assert weights.sum() == pytest.approx(1 - residual.var() / y.var(), abs=1e-9)


def test_relative_weights_sum_to_r2_with_correlated_predictors() -> None:
    rng = np.random.default_rng(4)
    base = rng.standard_normal((2_000, 1))
    x = base + 0.5 * rng.standard_normal((2_000, 3))
    y = x @ np.array([1.0, 0.5, 0.0]) + rng.standard_normal(2_000)
    design = np.column_stack([np.ones(2_000), x])
    residual = y - design @ np.linalg.lstsq(design, y, rcond=None)[0]
    weights = relative_weights(np.corrcoef(np.column_stack([x, y]), rowvar=False))
    assert weights.sum() == pytest.approx(1 - residual.var() / y.var(), abs=1e-9)
    assert weights[0] > weights[1] > weights[2] >= 0


def test_importance_performance_puts_important_low_scores_first() -> None:
    drivers = pd.DataFrame(
        {"feature": ["a", "b", "c", "d", "tier"], "weight": [0.4, 0.3, 0.1, 0.05, 0.15],
         "significant": [True, True, False, False, True]}
    )  # fmt: skip
    view = importance_performance(drivers, {"a": 0.5, "b": 0.9, "c": 0.4, "d": 0.95})
    quadrant = dict(zip(view["feature"], view["quadrant"], strict=True))
    assert quadrant == {"a": "fix first", "b": "keep up", "c": "low priority",
                        "d": "possible overkill"}  # fmt: skip
    assert view["feature"].iloc[0] == "a" and "tier" not in set(view["feature"])


def mixed_responses(
    rng: np.random.Generator, share_a: float, n: int, rate_b: float
) -> pd.DataFrame:
    """Group a: NPS +50 (60% promoters, 10% detractors); group b: `rate_b` promoters,
    30% detractors."""
    group = np.where(rng.random(n) < share_a, "a", "b")
    u = rng.random(n)
    promoter_share = np.where(group == "a", 0.6, rate_b)
    detractor_share = np.where(group == "a", 0.1, 0.3)
    score = np.where(u < promoter_share, 10, np.where(u < promoter_share + detractor_share, 3, 8))
    return pd.DataFrame({"survey": "nps", "score": score, "touchpoint": group})


def test_a_pure_mix_change_is_recovered_as_mix_and_parts_sum_to_the_total() -> None:
    rng = np.random.default_rng(5)
    before = mixed_responses(rng, 0.8, 40_000, 0.2).assign(timestamp=START)
    after = mixed_responses(rng, 0.4, 40_000, 0.2).assign(timestamp=START + pd.Timedelta(days=7))
    responses = pd.concat([before, after], ignore_index=True)
    parts = decompose_change(
        responses, metric="nps", by="touchpoint",
        before=(START, START + pd.Timedelta(days=7)),
        after=(START + pd.Timedelta(days=7), START + pd.Timedelta(days=14)),
    )  # fmt: skip

    def nps(frame: pd.DataFrame) -> float:
        return 100 * ((frame["score"] >= 9).mean() - (frame["score"] <= 6).mean())

    assert parts["total"].sum() == pytest.approx(nps(after) - nps(before), abs=1e-9)
    # planted: a is +50, b is -10; a's share falls from 80% to 40% → −24 points, all mix
    assert parts["mix"].sum() == pytest.approx(-24, abs=1.5)
    assert abs(parts["rate"].sum()) < 1.5


def test_a_pure_rate_change_is_recovered_as_rate() -> None:
    rng = np.random.default_rng(6)
    before = mixed_responses(rng, 0.5, 40_000, 0.2).assign(timestamp=START)
    after = mixed_responses(rng, 0.5, 40_000, 0.4).assign(timestamp=START + pd.Timedelta(days=7))
    parts = decompose_change(
        pd.concat([before, after], ignore_index=True), metric="nps", by="touchpoint",
        before=(START, START + pd.Timedelta(days=7)),
        after=(START + pd.Timedelta(days=7), START + pd.Timedelta(days=14)),
    ).set_index("touchpoint")  # fmt: skip
    # b's promoters rise 20 points at half the responses: +10 points of rate, at b
    assert parts["rate"].sum() == pytest.approx(10, abs=1.5)
    assert parts.loc["b", "rate"] == pytest.approx(10, abs=1.5)
    assert abs(parts["mix"].sum()) < 1.5


def test_bootstrap_intervals_cover_the_true_shares() -> None:
    """Independent standardised drivers with coefficients b: the true share of R² of driver
    j is b_j² / Σ b². 3,000 rows, so the bootstrap resamples blocks of rows."""
    b = np.array([0.6, 0.4, 0.25, 0.1])
    truth = b**2 / (b**2).sum()
    rng = np.random.default_rng(8)
    reps, covered = 60, 0
    for rep in range(reps):
        x = rng.standard_normal((3_000, 4))
        frame = pd.DataFrame(x, columns=list("abcd")).assign(nps=x @ b + rng.standard_normal(3_000))
        drivers = key_drivers(frame, n_boot=100, seed=rep).set_index("feature").loc[list("abcd")]
        covered += int(((drivers["low"] <= truth) & (truth <= drivers["high"])).sum())
    assert 0.85 <= covered / (4 * reps) <= 0.99
