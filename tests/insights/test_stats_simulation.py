"""insights.stats checked against known truth by simulation (vectorised, fixed seeds)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest
from scipy import stats

from insights.stats import METRICS, benjamini_hochberg, compare, estimate, metric

DRAWS = 1_000


def sums(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, Σv, Σv²) of each row of a (draws, n) matrix of per-response values."""
    n = np.full(values.shape[0], values.shape[1], dtype=np.float64)
    return n, values.sum(1), (values * values).sum(1)


def draw_scores(rng: np.random.Generator, probs: list[float], low: int, size: tuple[int, int]):
    return rng.choice(np.arange(low, low + len(probs)), p=probs, size=size)


NPS_PROBS = [0.04, 0.02, 0.03, 0.04, 0.05, 0.06, 0.08, 0.12, 0.14, 0.2, 0.22]  # 0..10
CSAT_PROBS = [0.08, 0.1, 0.17, 0.35, 0.3]  # 1..5
CES_PROBS = [0.05, 0.07, 0.1, 0.18, 0.25, 0.2, 0.15]  # 1..7


def true_value(name: str) -> float:
    m = METRICS[name]
    probs = {"nps": NPS_PROBS, "csat": CSAT_PROBS, "ces": CES_PROBS}[m.survey]
    scores = np.arange(m.scale[0], m.scale[1] + 1)
    return float(np.dot(probs, m.values(scores)) * m.factor)


@pytest.mark.parametrize(
    ("name", "n"),
    [("nps", 200), ("nps", 60), ("csat", 100), ("csat", 40), ("ces_easy", 80),
     ("csat_mean", 50), ("ces", 30)],
)  # fmt: skip
def test_interval_coverage_is_between_93_and_97_percent(name: str, n: int) -> None:
    m = METRICS[name]
    probs = {"nps": NPS_PROBS, "csat": CSAT_PROBS, "ces": CES_PROBS}[m.survey]
    rng = np.random.default_rng(zlib.crc32(f"{name}{n}".encode()))
    values = m.values(draw_scores(rng, probs, m.scale[0], (DRAWS, n)))
    est = estimate(m, *sums(values))
    truth = true_value(name)
    covered = (est.low <= truth) & (truth <= est.high)
    assert 0.93 <= covered.mean() <= 0.97, covered.mean()
    assert np.all(est.low <= est.value) and np.all(est.value <= est.high)


def test_nps_value_is_promoters_minus_detractors_in_points() -> None:
    scores = np.array([10, 9, 9, 8, 7, 6, 0, 3, 10, 10])  # 5 promoters, 3 detractors of 10
    est = estimate(METRICS["nps"], *sums(METRICS["nps"].values(scores)[None, :]))
    assert est.value[0] == pytest.approx(20.0)


def test_shares_and_means_read_their_own_ranges() -> None:
    assert METRICS["csat"].values([1, 3, 4, 5]).tolist() == [0, 0, 1, 1]
    assert METRICS["ces_easy"].values([1, 4, 5, 7]).tolist() == [0, 0, 1, 1]
    assert METRICS["ces"].scale == (1, 7) and METRICS["csat_mean"].scale == (1, 5)


def test_unknown_metric_names_the_field() -> None:
    with pytest.raises(ValueError, match="unknown metric") as info:
        metric("happiness")
    assert getattr(info.value, "details", {}).get("field") == "metric"


@pytest.mark.parametrize("name", list(METRICS))
def test_two_sample_test_false_positive_rate_is_about_alpha(name: str) -> None:
    m = METRICS[name]
    probs = {"nps": NPS_PROBS, "csat": CSAT_PROBS, "ces": CES_PROBS}[m.survey]
    rng = np.random.default_rng(7)
    a = m.values(draw_scores(rng, probs, m.scale[0], (DRAWS, 150)))
    b = m.values(draw_scores(rng, probs, m.scale[0], (DRAWS, 400)))
    rate = (compare(m, sums(a), sums(b)).p_value < 0.05).mean()
    assert 0.03 <= rate <= 0.07, rate


@pytest.mark.parametrize("name", list(METRICS))
def test_two_sample_test_tail_is_calibrated_where_bh_decides(name: str) -> None:
    """BH over a 70-cell table rejects near p < 0.05/70; a small cell against a large rest
    must reach p < 0.001 about 1 time in 1,000 under no difference, not 2–6 times."""
    m = METRICS[name]
    probs = np.array({"nps": NPS_PROBS, "csat": CSAT_PROBS, "ces": CES_PROBS}[m.survey])
    values = m.values(np.arange(m.scale[0], m.scale[1] + 1))
    rng = np.random.default_rng(10)
    draws = 200_000
    for n_a, n_b in ((100, 3_900), (40, 2_000)):
        a, b = rng.multinomial(n_a, probs, draws), rng.multinomial(n_b, probs, draws)
        p = compare(
            m,
            (np.full(draws, n_a), a @ values, a @ values**2),
            (np.full(draws, n_b), b @ values, b @ values**2),
        ).p_value
        assert 0.0006 <= (p < 0.001).mean() <= 0.0015, (n_a, (p < 0.001).mean())


def nps_variance(probs: np.ndarray) -> float:
    """Var of the promoter(+1)/detractor(−1) value: p + d − (p − d)², from the truth."""
    promoters, detractors = probs[9:].sum(), probs[:7].sum()
    return float(promoters + detractors - (promoters - detractors) ** 2)


def test_planted_nps_difference_is_detected_at_the_power_theory_predicts() -> None:
    m = METRICS["nps"]
    rng = np.random.default_rng(8)
    worse = np.array(NPS_PROBS)
    worse[10] -= 0.10
    worse[3] += 0.10  # ten points of promoters become detractors: NPS −20
    a = m.values(draw_scores(rng, list(worse), 0, (DRAWS, 400)))
    b = m.values(draw_scores(rng, NPS_PROBS, 0, (DRAWS, 400)))
    test = compare(m, sums(a), sums(b))
    se = np.sqrt((nps_variance(worse) + nps_variance(np.array(NPS_PROBS))) / 400) * 100
    power = stats.norm.cdf(20 / se - stats.norm.ppf(0.975))
    found = ((test.p_value < 0.05) & (test.diff < 0)).mean()
    assert abs(found - power) < 0.03, (found, power)
    assert np.mean(test.diff) == pytest.approx(-20, abs=1)


def test_benjamini_hochberg_on_a_worked_example() -> None:
    # BH at 0.05 over 6 tests: thresholds 0.0083, 0.0167, 0.025, 0.033, 0.042, 0.05;
    # 0.02 misses its own threshold (rank 2) but is rejected because 0.024 (rank 3) passes
    p = np.array([0.02, 0.001, 0.024, 0.2, 0.5, np.nan, 0.9])
    assert benjamini_hochberg(p, 0.05).tolist() == [True, True, True, False, False, False, False]
    assert not benjamini_hochberg(np.array([np.nan, np.nan])).any()


def test_benjamini_hochberg_keeps_any_false_flag_under_5_percent_under_the_null() -> None:
    rng = np.random.default_rng(9)
    p = rng.random((DRAWS, 200))
    any_flag = np.array([benjamini_hochberg(row).any() for row in p])
    assert any_flag.mean() <= 0.06
    assert (p < 0.05).any(axis=1).mean() > 0.99  # uncorrected: a false flag nearly every time
