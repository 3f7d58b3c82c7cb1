"""The statistics checked against known truth by simulation (vectorised, fixed seeds)."""

from __future__ import annotations

import numpy as np
from scipy import stats

from experiments.stats import (
    cuped_adjust,
    prob_beat_control,
    relative_lift,
    required_users_per_variant,
    srm_test,
    two_proportion_ztest,
    welch_ttest,
)

SIMS = 1_000


def test_aa_conversion_rate_false_positive_rate_is_about_alpha() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    x_t, x_c = rng.binomial(n, 0.05, SIMS), rng.binomial(n, 0.05, SIMS)
    fpr = (two_proportion_ztest(x_t, n, x_c, n).p_value < 0.05).mean()
    assert 0.03 <= fpr <= 0.07


def test_aa_revenue_welch_false_positive_rate_is_about_alpha_on_skewed_data() -> None:
    rng = np.random.default_rng(2)
    n = 1_000

    # most customers spend nothing, buyers spend a log-normal amount: the usual shape
    def revenue(size: tuple[int, int]) -> np.ndarray:
        return (rng.random(size) < 0.1) * rng.lognormal(3, 1, size)

    t, c = revenue((SIMS, n)), revenue((SIMS, n))
    res = welch_ttest(t.mean(1), t.var(1, ddof=1), n, c.mean(1), c.var(1, ddof=1), n)
    fpr = (res.p_value < 0.05).mean()
    assert 0.03 <= fpr <= 0.07


def test_planted_ten_percent_lift_is_detected_with_enough_users() -> None:
    rng = np.random.default_rng(3)
    n, base = 40_000, 0.10
    x_c, x_t = rng.binomial(n, base, 300), rng.binomial(n, base * 1.1, 300)
    res = two_proportion_ztest(x_t, n, x_c, n)
    detected = (res.p_value < 0.05) & (res.diff > 0)
    assert detected.mean() > 0.9


def test_required_sample_size_gives_the_promised_power() -> None:
    n = required_users_per_variant(0.10, 0.10)
    assert n is not None
    rng = np.random.default_rng(4)
    x_c, x_t = rng.binomial(n, 0.10, 2_000), rng.binomial(n, 0.11, 2_000)
    power = (two_proportion_ztest(x_t, n, x_c, n).p_value < 0.05).mean()
    assert 0.76 <= power <= 0.84
    assert required_users_per_variant(0.0, 0.1) is None


def test_relative_lift_ci_covers_the_true_lift_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(5)
    n, p_c, p_t = 20_000, 0.10, 0.11
    x_c, x_t = rng.binomial(n, p_c, SIMS), rng.binomial(n, p_t, SIMS)
    r_t, r_c = x_t / n, x_c / n
    ci = relative_lift(r_t, r_t * (1 - r_t) / n, r_c, r_c * (1 - r_c) / n)
    covered = ((ci.low <= 0.1) & (ci.high >= 0.1)).mean()
    assert 0.93 <= covered <= 0.97


def test_welch_ci_covers_the_true_difference_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(6)
    n_t, n_c = 300, 700  # unequal sizes and variances: where Welch matters
    t = rng.normal(10.5, 6.0, (SIMS, n_t))
    c = rng.normal(10.0, 2.0, (SIMS, n_c))
    res = welch_ttest(t.mean(1), t.var(1, ddof=1), n_t, c.mean(1), c.var(1, ddof=1), n_c)
    covered = ((res.low <= 0.5) & (res.high >= 0.5)).mean()
    assert 0.93 <= covered <= 0.97


def test_srm_flags_52_48_on_100k_users_and_rarely_flags_a_fair_split() -> None:
    assert srm_test([52_000, 48_000], [50, 50]) < 0.001
    rng = np.random.default_rng(7)
    fair = rng.binomial(100_000, 0.5, SIMS)
    p = np.array([srm_test([k, 100_000 - k], [50, 50]) for k in fair])
    assert (p < 0.001).mean() <= 0.005
    assert srm_test([30_000, 70_000], [30, 70]) > 0.001


def test_cuped_lowers_the_variance_of_the_lift_estimate_without_bias() -> None:
    rng = np.random.default_rng(8)
    n, effect = 2_000, 1.0
    raw, adjusted = [], []
    for _ in range(400):
        pre = rng.gamma(2.0, 10.0, 2 * n)
        treated = np.arange(2 * n) < n
        y = 0.8 * pre + rng.normal(0, 10, 2 * n) + effect * treated
        adj, _ = cuped_adjust(y, pre)
        raw.append(y[treated].mean() - y[~treated].mean())
        adjusted.append(adj[treated].mean() - adj[~treated].mean())
    raw_a, adj_a = np.array(raw), np.array(adjusted)
    corr2 = 0.8**2 * 200 / (0.8**2 * 200 + 100)  # var(pre) = 2 * 10^2
    assert adj_a.var() < raw_a.var() * (1 - corr2) * 1.3  # near the theoretical 1 - rho^2
    assert adj_a.var() < 0.7 * raw_a.var()
    assert abs(adj_a.mean() - effect) < 3 * adj_a.std() / np.sqrt(len(adj_a))


def test_probability_to_beat_control_matches_the_normal_approximation() -> None:
    for x_t, x_c in [(520, 500), (500, 500), (450, 500), (600, 500)]:
        n = 10_000
        p_t, p_c = x_t / n, x_c / n
        se = np.sqrt(p_t * (1 - p_t) / n + p_c * (1 - p_c) / n)
        expected = stats.norm.cdf((p_t - p_c) / se)
        assert abs(prob_beat_control(x_t, n, x_c, n) - expected) < 0.02
    assert prob_beat_control(520, n, 500, n) == prob_beat_control(520, n, 500, n)  # seeded


def test_aa_cuped_adjusted_test_keeps_the_false_positive_rate() -> None:
    rng = np.random.default_rng(9)
    n = 500
    p_values = []
    for _ in range(SIMS):
        pre = rng.gamma(2.0, 10.0, 2 * n)
        y = 0.8 * pre + rng.normal(0, 10, 2 * n)  # no effect at all
        adj, _ = cuped_adjust(y, pre)
        t, c = adj[:n], adj[n:]
        res = welch_ttest(t.mean(), t.var(ddof=1), n, c.mean(), c.var(ddof=1), n)
        p_values.append(float(res.p_value))
    fpr = (np.array(p_values) < 0.05).mean()
    assert 0.03 <= fpr <= 0.07


def test_aa_probability_to_beat_control_is_calibrated() -> None:
    rng = np.random.default_rng(10)
    n = 4_000
    x_t, x_c = rng.binomial(n, 0.08, 400), rng.binomial(n, 0.08, 400)
    probs = np.array(
        [
            prob_beat_control(int(a), n, int(b), n, draws=20_000)
            for a, b in zip(x_t, x_c, strict=True)
        ]
    )
    # with flat priors and many users, P(beat) behaves like a one-sided p-value: uniform
    assert stats.kstest(probs, "uniform").pvalue > 0.001
    assert 0.005 <= (probs > 0.975).mean() <= 0.05
