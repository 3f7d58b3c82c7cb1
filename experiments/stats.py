"""The statistical tests behind experiment results, vectorised so simulations can run thousands.

Every function takes summary statistics (counts, means, variances) as floats or numpy arrays
of the same shape and returns arrays of that shape. `results.py` applies them to one experiment.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

Floats = npt.NDArray[np.float64]
ArrayLike = float | npt.NDArray[np.float64] | npt.NDArray[np.int64]


class Difference(NamedTuple):
    """Treatment minus control: estimate, standard error, two-sided p-value, CI bounds."""

    diff: Floats
    se: Floats
    p_value: Floats
    low: Floats
    high: Floats


class Ratio(NamedTuple):
    """Relative lift `treatment / control - 1` with its delta-method standard error and CI."""

    lift: Floats
    se: Floats
    low: Floats
    high: Floats


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def two_proportion_ztest(
    x_t: ArrayLike, n_t: ArrayLike, x_c: ArrayLike, n_c: ArrayLike, alpha: float = 0.05
) -> Difference:
    """Difference of conversion rates; pooled-variance z-test, unpooled (Wald) CI."""
    x_t, n_t, x_c, n_c = (np.asarray(a, dtype=np.float64) for a in (x_t, n_t, x_c, n_c))
    with np.errstate(divide="ignore", invalid="ignore"):
        p_t, p_c = x_t / n_t, x_c / n_c
        pooled = (x_t + x_c) / (n_t + n_c)
        se_pooled = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_c))
        z = (p_t - p_c) / se_pooled
        se = np.sqrt(p_t * (1 - p_t) / n_t + p_c * (1 - p_c) / n_c)
    p_value = 2 * stats.norm.sf(np.abs(z))
    half = _z(alpha) * se
    diff = p_t - p_c
    return Difference(diff, se, p_value, diff - half, diff + half)


def welch_ttest(
    mean_t: ArrayLike,
    var_t: ArrayLike,
    n_t: ArrayLike,
    mean_c: ArrayLike,
    var_c: ArrayLike,
    n_c: ArrayLike,
    alpha: float = 0.05,
) -> Difference:
    """Difference of means with unequal variances (`var_*` are sample variances, ddof=1)."""
    mean_t, var_t, n_t, mean_c, var_c, n_c = (
        np.asarray(a, dtype=np.float64) for a in (mean_t, var_t, n_t, mean_c, var_c, n_c)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        vm_t, vm_c = var_t / n_t, var_c / n_c
        se = np.sqrt(vm_t + vm_c)
        df = (vm_t + vm_c) ** 2 / (vm_t**2 / (n_t - 1) + vm_c**2 / (n_c - 1))
        t = (mean_t - mean_c) / se
    p_value = 2 * stats.t.sf(np.abs(t), df)
    half = stats.t.ppf(1 - alpha / 2, df) * se
    diff = mean_t - mean_c
    return Difference(diff, se, p_value, diff - half, diff + half)


def relative_lift(
    mean_t: ArrayLike,
    var_mean_t: ArrayLike,
    mean_c: ArrayLike,
    var_mean_c: ArrayLike,
    alpha: float = 0.05,
) -> Ratio:
    """`mean_t / mean_c - 1` and its CI by the delta method (independent groups).

    `var_mean_*` are variances of the means (variance / n). Var(T/C) is approximated by
    Var(T)/C^2 + T^2 Var(C)/C^4.
    """
    mean_t, var_mean_t, mean_c, var_mean_c = (
        np.asarray(a, dtype=np.float64) for a in (mean_t, var_mean_t, mean_c, var_mean_c)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = mean_t / mean_c - 1
        se = np.sqrt(var_mean_t / mean_c**2 + mean_t**2 * var_mean_c / mean_c**4)
    half = _z(alpha) * se
    return Ratio(lift, se, lift - half, lift + half)


def prob_beat_control(
    x_t: int, n_t: int, x_c: int, n_c: int, *, draws: int = 200_000, seed: int = 0
) -> float:
    """P(rate_t > rate_c) under independent Beta(1 + x, 1 + n - x) posteriors (uniform priors).

    Monte Carlo with a fixed seed, so the same data always gives the same number.
    """
    rng = np.random.default_rng(seed)
    t = rng.beta(1 + x_t, 1 + n_t - x_t, draws)
    c = rng.beta(1 + x_c, 1 + n_c - x_c, draws)
    return float(np.mean(t > c))


def srm_test(observed: npt.ArrayLike, weights: npt.ArrayLike) -> float:
    """Chi-square p-value of the observed users per variant against the planned weights."""
    counts = np.asarray(observed, dtype=np.float64)
    share = np.asarray(weights, dtype=np.float64)
    expected = counts.sum() * share / share.sum()
    if counts.sum() == 0:
        return 1.0
    return float(stats.chisquare(counts, expected).pvalue)


def cuped_theta(y: Floats, x: Floats) -> float:
    """The CUPED coefficient cov(y, x) / var(x), pooled over every customer of every variant.

    Pooling is valid because assignment is independent of the pre-period covariate.
    """
    var_x = float(np.var(x, ddof=1)) if len(x) > 1 else 0.0
    if var_x == 0.0:
        return 0.0
    return float(np.cov(y, x, ddof=1)[0, 1] / var_x)


def cuped_adjust(y: Floats, x: Floats) -> tuple[Floats, float]:
    """`y - theta * (x - mean(x))`: same expected difference between variants, less variance."""
    theta = cuped_theta(y, x)
    return y - theta * (x - x.mean()), theta


def required_users_per_variant(
    control_rate: float, mde: float, *, alpha: float = 0.05, power: float = 0.8
) -> int | None:
    """Users per variant to detect a relative lift of `mde` on `control_rate` (two-sided z-test).

    None when it cannot be computed (no conversions yet, or the lifted rate exceeds 1).
    """
    p1 = control_rate
    p2 = control_rate * (1 + mde)
    if not 0 < p1 < 1 or not 0 < p2 < 1:
        return None
    z = _z(alpha) + float(stats.norm.ppf(power))
    n = z**2 * (p1 * (1 - p1) + p2 * (1 - p2)) / (p2 - p1) ** 2
    return int(np.ceil(n))
