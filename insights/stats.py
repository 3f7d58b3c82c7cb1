"""CX metrics declared once, their estimators with 95% intervals, two-sample tests and BH.

Every metric is the mean of a per-response value (`Metric.values`), so a cell is summarised
by three sums — n, Σv, Σv² — and everything below is vectorised over arrays of cells:

- NPS: v = +1 promoter (9–10), −1 detractor (0–6), 0 passive; NPS = 100·mean(v). The
  variance of the difference of the two multinomial shares, (p + d − (p − d)²)/n, is
  exactly the variance of v over n, so the interval is normal on that variance.
- shares (CSAT 4–5, CES easy 5–7): v ∈ {0, 1}; Wilson score interval.
- means (CSAT, CES on their survey scale): v = score; Student t interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import stats

from contracts.errors import InvalidInput
from contracts.schema import SURVEY_BANDS, SURVEY_RANGES

Floats = npt.NDArray[np.float64]
Kind = Literal["nps", "share", "mean"]


@dataclass(frozen=True)
class Metric:
    """One CX metric: which survey it reads, how a score becomes a value, its unit."""

    name: str
    survey: str
    kind: Kind
    title: str
    good: tuple[int, int] | None = None  # the score range counted by a share

    @property
    def scale(self) -> tuple[int, int]:
        """The survey's score range (declared once in contracts.schema)."""
        low, high = SURVEY_RANGES[self.survey]
        return int(low), int(high)

    @property
    def unit(self) -> str:
        if self.kind == "nps":
            return "points (-100..100)"
        if self.kind == "share":
            return "% of responses"
        return "score ({}..{})".format(*self.scale)

    def values(self, scores: npt.ArrayLike) -> Floats:
        """The per-response value whose mean (times `factor`) is the metric."""
        s = np.asarray(scores, dtype=np.float64)
        if self.kind == "nps":
            (low, high), (good, top) = SURVEY_BANDS["nps"]
            promoters = (s >= good) & (s <= top)
            return promoters.astype(np.float64) - ((s >= low) & (s <= high)).astype(np.float64)
        if self.kind == "share":
            assert self.good is not None
            return ((s >= self.good[0]) & (s <= self.good[1])).astype(np.float64)
        return s

    @property
    def bounds(self) -> tuple[float, float]:
        """The range of the mean of `values`."""
        if self.kind == "nps":
            return -1.0, 1.0
        return (0.0, 1.0) if self.kind == "share" else (float(self.scale[0]), float(self.scale[1]))

    @property
    def factor(self) -> float:
        """Multiplier from the mean of `values` to the natural scale."""
        return 1.0 if self.kind == "mean" else 100.0


METRICS: Final[dict[str, Metric]] = {
    m.name: m
    for m in (
        Metric("nps", "nps", "nps", "Net Promoter Score: % promoters (9-10) - % detractors (0-6)"),
        Metric(
            "csat", "csat", "share", "CSAT: % satisfied (4-5 of 1-5)", good=SURVEY_BANDS["csat"][1]
        ),
        Metric("csat_mean", "csat", "mean", "CSAT mean score (1-5)"),
        Metric("ces", "ces", "mean", "CES mean score (1-7, higher is easier)"),
        Metric(
            "ces_easy",
            "ces",
            "share",
            "CES: % finding it easy (5-7 of 1-7)",
            good=SURVEY_BANDS["ces"][1],
        ),
    )
}


def metric(name: str) -> Metric:
    """The metric called `name`, or InvalidInput naming the known ones."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(METRICS)
        raise InvalidInput(f"unknown metric {name!r}; known: {known}", field="metric") from None


class Estimate(NamedTuple):
    """Value and interval on the metric's natural scale."""

    value: Floats
    low: Floats
    high: Floats


class Test(NamedTuple):
    """A minus B on the natural scale, with the two-sided p-value."""

    diff: Floats
    p_value: Floats


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def _arrays(*values: npt.ArrayLike) -> list[Floats]:
    return [np.asarray(v, dtype=np.float64) for v in values]


def _variance(n: Floats, s1: Floats, s2: Floats, ddof: int) -> Floats:
    """Variance of v from its sums; clipped at 0 against rounding."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out: Floats = np.maximum(s2 - s1 * s1 / n, 0.0) / (n - ddof)
    return out


def estimate(
    m: Metric, n: npt.ArrayLike, s1: npt.ArrayLike, s2: npt.ArrayLike, alpha: float = 0.05
) -> Estimate:
    """The metric per cell from n, Σv and Σv², with its (1 − alpha) interval (NaN if n = 0)."""
    n_, s1_, s2_ = _arrays(n, s1, s2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = s1_ / n_
        if m.kind == "share":
            z = _z(alpha)
            centre = (mean + z * z / (2 * n_)) / (1 + z * z / n_)
            half = z * np.sqrt(mean * (1 - mean) / n_ + z * z / (4 * n_ * n_)) / (1 + z * z / n_)
        elif m.kind == "nps":
            centre = mean
            half = _z(alpha) * np.sqrt(_variance(n_, s1_, s2_, 0) / n_)
        else:
            centre = mean
            half = stats.t.ppf(1 - alpha / 2, n_ - 1) * np.sqrt(_variance(n_, s1_, s2_, 1) / n_)
    # a normal interval near the edge can cross it (NPS at n = 12: −109): clip to the scale
    low, high = m.bounds
    f = m.factor
    return Estimate(
        mean * f, np.clip(centre - half, low, high) * f, np.clip(centre + half, low, high) * f
    )


def compare(
    m: Metric,
    a: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
    b: tuple[npt.ArrayLike, npt.ArrayLike, npt.ArrayLike],
) -> Test:
    """Two independent samples given as (n, Σv, Σv²): a z score test of "both come from one
    distribution", its variance pooled over both samples (for shares this is the pooled
    two-proportion test). Unpooled (Wald/Welch) variances shrink with the sample's own
    skew and made p < 0.001 two to six times likelier than nominal for NPS at n = 30..100
    against a large rest; flags are decided in that tail once BH divides alpha by 100s."""
    n_a, s1_a, s2_a = _arrays(*a)
    n_b, s1_b, s2_b = _arrays(*b)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = s1_a / n_a - s1_b / n_b
        n = n_a + n_b
        pooled_mean = (s1_a + s1_b) / n
        pooled_var = np.maximum((s2_a + s2_b) / n - pooled_mean * pooled_mean, 0.0)
        z = diff / np.sqrt(pooled_var * (1 / n_a + 1 / n_b))
        p = 2 * stats.norm.sf(np.abs(z))
        # identical constant samples (variance 0, difference 0) are no evidence of a change
        p = np.where((diff == 0) & np.isnan(p), 1.0, p)
    return Test(diff * m.factor, np.asarray(p, dtype=np.float64))


def benjamini_hochberg(p_values: npt.ArrayLike, alpha: float = 0.05) -> npt.NDArray[np.bool_]:
    """Which hypotheses the BH step-up procedure rejects at false discovery rate `alpha`.
    NaN p-values (comparisons not made) are never rejected and do not count as tests."""
    p = np.asarray(p_values, dtype=np.float64)
    flat = p.ravel()
    tested = np.flatnonzero(~np.isnan(flat))
    out = np.zeros(flat.shape, dtype=bool)
    if tested.size:
        order = tested[np.argsort(flat[tested], kind="stable")]
        ranks = np.arange(1, order.size + 1)
        passing = np.flatnonzero(flat[order] <= alpha * ranks / order.size)
        if passing.size:
            out[order[: passing[-1] + 1]] = True
    return out.reshape(p.shape)
