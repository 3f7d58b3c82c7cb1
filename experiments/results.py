"""Results of one experiment from per-customer rows: what an A/B team reads to decide.

Input is one row per customer who was exposed (intention to treat by first-exposure variant):
variant, exposures, conversions (count of attributed conversion events), revenue and, when
known, pre-experiment spend for CUPED. Customers with no pre-period record count as 0 spend.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Protocol

import numpy as np
import numpy.typing as npt

from experiments.errors import InvalidAnalysisInput
from experiments.model import Experiment
from experiments.stats import (
    Difference,
    cuped_adjust,
    prob_beat_control,
    relative_lift,
    required_users_per_variant,
    srm_test,
    two_proportion_ztest,
    welch_ttest,
)

SRM_ALPHA = 0.001


@dataclass(frozen=True)
class Lift:
    """A metric of a variant against control: absolute and relative, each with its CI."""

    absolute: float
    absolute_ci: tuple[float, float]
    relative: float
    relative_ci: tuple[float, float]
    p_value: float
    significant: bool


@dataclass(frozen=True)
class VariantResult:
    name: str
    is_control: bool
    users: int
    exposures: int
    converters: int
    conversions: int
    conversion_rate: float
    revenue: float
    revenue_per_user: float
    conversion_rate_lift: Lift | None = None
    revenue_per_user_lift: Lift | None = None
    revenue_per_user_lift_cuped: Lift | None = None
    prob_beat_control: float | None = None


@dataclass(frozen=True)
class ExperimentResults:
    control: str
    alpha: float
    variants: list[VariantResult]
    srm_p_value: float
    srm: bool
    trustworthy: bool
    required_users_per_variant: int | None
    cuped_variance_reduction: float | None
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        """JSON-ready: NaN and infinities become None."""
        cleaned = _clean(asdict(self))
        assert isinstance(cleaned, dict)
        return cleaned


def _clean(value: object) -> object:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _lift(d: Difference, rel_args: tuple[float, float, float, float], alpha: float) -> Lift:
    r = relative_lift(*rel_args, alpha=alpha)
    p = float(d.p_value)
    return Lift(
        absolute=float(d.diff),
        absolute_ci=(float(d.low), float(d.high)),
        relative=float(r.lift),
        relative_ci=(float(r.low), float(r.high)),
        p_value=p,
        significant=bool(p < alpha),
    )


def _mean_lift(y_t: npt.NDArray[np.float64], y_c: npt.NDArray[np.float64], alpha: float) -> Lift:
    m_t, m_c = float(y_t.mean()), float(y_c.mean())
    v_t = float(y_t.var(ddof=1)) if len(y_t) > 1 else math.nan
    v_c = float(y_c.var(ddof=1)) if len(y_c) > 1 else math.nan
    d = welch_ttest(m_t, v_t, len(y_t), m_c, v_c, len(y_c), alpha=alpha)
    return _lift(d, (m_t, v_t / len(y_t), m_c, v_c / len(y_c)), alpha)


def analyse(
    *,
    variant: Sequence[str] | npt.NDArray[np.str_ | np.object_],
    conversions: npt.ArrayLike,
    revenue: npt.ArrayLike,
    weights: Mapping[str, float],
    control: str,
    exposures: npt.ArrayLike | None = None,
    pre_spend: npt.ArrayLike | None = None,
    mde: float = 0.05,
    alpha: float = 0.05,
) -> ExperimentResults:
    """Per-variant metrics, lifts against `control`, SRM check, CUPED and a power warning.

    `weights` are the planned shares (percent) used by the SRM check; every variant named
    there is reported, also those with no users yet.
    """
    labels = np.asarray(variant, dtype=object)
    conv = np.asarray(conversions, dtype=np.float64)
    rev = np.asarray(revenue, dtype=np.float64)
    expo = np.ones(len(labels)) if exposures is None else np.asarray(exposures, dtype=np.float64)
    pre = None if pre_spend is None else np.asarray(pre_spend, dtype=np.float64)
    arrays = {"conversions": conv, "revenue": rev, "exposures": expo}
    if pre is not None:
        arrays["pre_spend"] = pre
    for name, arr in arrays.items():
        if arr.shape != labels.shape:
            raise InvalidAnalysisInput(f"{name} has {arr.size} rows, variant has {labels.size}")
    if control not in weights:
        raise InvalidAnalysisInput(f"control {control!r} is not among the variants {list(weights)}")
    unknown = sorted(set(labels.tolist()) - set(weights))
    if unknown:
        raise InvalidAnalysisInput(f"rows with unknown variant(s) {unknown}")
    if not np.isfinite(rev).all() or not np.isfinite(conv).all():
        raise InvalidAnalysisInput("revenue and conversions must be finite numbers")
    if pre is not None:
        pre = np.nan_to_num(pre, nan=0.0)  # no pre-period record = no pre-period spend

    converted = (conv > 0).astype(np.float64)
    masks = {name: labels == name for name in weights}
    warnings: list[str] = []
    adjusted, reduction = None, None
    if pre is not None and len(rev) > 2 and np.var(pre) > 0 and np.var(rev) > 0:
        adjusted, _ = cuped_adjust(rev, pre)
        reduction = float(1 - np.var(adjusted) / np.var(rev))

    c_mask = masks[control]
    n_c, x_c = int(c_mask.sum()), int(converted[c_mask].sum())
    out = []
    for name, mask in masks.items():
        n = int(mask.sum())
        x = int(converted[mask].sum())
        row = dict(
            name=name,
            is_control=name == control,
            users=n,
            exposures=int(expo[mask].sum()),
            converters=x,
            conversions=int(conv[mask].sum()),
            conversion_rate=x / n if n else math.nan,
            revenue=float(rev[mask].sum()),
            revenue_per_user=float(rev[mask].mean()) if n else math.nan,
        )
        if name != control and n and n_c:
            p_t, p_c = x / n, x_c / n_c
            d = two_proportion_ztest(x, n, x_c, n_c, alpha=alpha)
            rel = (p_t, p_t * (1 - p_t) / n, p_c, p_c * (1 - p_c) / n_c)
            row["conversion_rate_lift"] = _lift(d, rel, alpha)
            row["revenue_per_user_lift"] = _mean_lift(rev[mask], rev[c_mask], alpha)
            if adjusted is not None:
                cuped = _mean_lift(adjusted[mask], adjusted[c_mask], alpha)
                row["revenue_per_user_lift_cuped"] = cuped
            row["prob_beat_control"] = prob_beat_control(x, n, x_c, n_c)
        out.append(VariantResult(**row))  # type: ignore[arg-type]

    users = [r.users for r in out]
    srm_p = srm_test(users, list(weights.values()))
    srm = srm_p < SRM_ALPHA
    if srm:
        warnings.append(
            f"sample ratio mismatch (chi-square p = {srm_p:.2g} < {SRM_ALPHA}): users per variant "
            f"{dict(zip(weights, users, strict=True))} do not match the planned weights "
            f"{dict(weights)}; results are untrustworthy until the cause is found"
        )
    needed = required_users_per_variant(x_c / n_c if n_c else 0.0, mde, alpha=alpha)
    if needed is None:
        warnings.append("too little data to size the test: the control has no conversions yet")
    elif min(users) < needed:
        warnings.append(
            f"samples too small for the minimum detectable effect of {mde:.1%}: about "
            f"{needed} users per variant are needed (alpha {alpha}, power 0.8), the smallest "
            f"has {min(users)}"
        )
    return ExperimentResults(
        control=control,
        alpha=alpha,
        variants=out,
        srm_p_value=srm_p,
        srm=srm,
        trustworthy=not srm,
        required_users_per_variant=needed,
        cuped_variance_reduction=reduction,
        warnings=warnings,
    )


class Rows(Protocol):
    """Per-customer columns, as `store.experiment_store.CustomerRows` holds them."""

    variants: list[str]
    exposures: list[int]
    conversions: list[int]
    revenue: list[float]
    pre_spend: list[float]


def analyse_experiment(experiment: Experiment, rows: Rows) -> ExperimentResults:
    """`analyse` with the experiment's own weights, control and MDE.

    Customers exposed to a variant the definition no longer has are left out, with a warning.
    CUPED is used when at least one customer has a known pre-period spend.
    """
    labels = np.asarray(rows.variants, dtype=object)
    keep = np.isin(labels, list(experiment.weights))
    pre = np.asarray(rows.pre_spend, dtype=np.float64)
    results = analyse(
        variant=labels[keep],
        conversions=np.asarray(rows.conversions)[keep],
        revenue=np.asarray(rows.revenue, dtype=np.float64)[keep],
        exposures=np.asarray(rows.exposures)[keep],
        pre_spend=pre[keep] if len(pre) == len(labels) and np.isfinite(pre).any() else None,
        weights=experiment.weights,
        control=experiment.control,
        mde=experiment.mde,
    )
    dropped = int((~keep).sum())
    if dropped:
        note = f"{dropped} customer(s) exposed to variants no longer defined are left out"
        results = replace(results, warnings=[*results.warnings, note])
    return results
