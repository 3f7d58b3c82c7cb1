"""`analyse`: per-customer rows in, the numbers an A/B team reads out."""

from __future__ import annotations

import json

import numpy as np
import pytest

from experiments.assignment import assign
from experiments.errors import InvalidAnalysisInput
from experiments.results import analyse
from tests.experiments.factories import experiment

WEIGHTS = {"control": 50.0, "v1": 50.0}


def customers(n: int, share_control: float, rate_c: float, rate_t: float, seed: int) -> dict:
    """Simulated per-customer rows with known rates and revenue tied to pre-period spend."""
    rng = np.random.default_rng(seed)
    variant = np.where(rng.random(n) < share_control, "control", "v1")
    pre = rng.gamma(2.0, 20.0, n)  # mean 40
    # customers who spent more before convert more: what makes pre-period spend informative
    rate = np.where(variant == "control", rate_c, rate_t) * np.clip(pre / 40, 0.2, 3)
    conversions = rng.binomial(2, np.clip(rate / 2, 0, 1))
    revenue = (conversions > 0) * (0.5 * pre + rng.gamma(2.0, 10.0, n))
    return {
        "variant": variant,
        "conversions": conversions,
        "revenue": revenue,
        "pre_spend": pre,
        "exposures": rng.integers(1, 5, n),
    }


def test_counts_and_rates_on_a_hand_built_table() -> None:
    res = analyse(
        variant=["control", "control", "control", "v1", "v1"],
        conversions=[0, 2, 1, 0, 1],
        revenue=[0.0, 30.0, 10.0, 0.0, 25.0],
        exposures=[1, 3, 1, 2, 2],
        weights=WEIGHTS,
        control="control",
    )
    c, t = res.variants
    assert (c.users, c.exposures, c.converters, c.conversions) == (3, 5, 2, 3)
    assert (t.users, t.exposures, t.converters, t.conversions) == (2, 4, 1, 1)
    assert c.conversion_rate == pytest.approx(2 / 3) and t.conversion_rate == 0.5
    assert c.revenue_per_user == pytest.approx(40 / 3) and t.revenue_per_user == 12.5
    assert c.conversion_rate_lift is None and t.conversion_rate_lift is not None
    assert t.conversion_rate_lift.absolute == pytest.approx(0.5 - 2 / 3)
    assert t.conversion_rate_lift.relative == pytest.approx(0.5 / (2 / 3) - 1)
    assert any("samples too small" in w for w in res.warnings)


def test_planted_lift_is_found_with_ci_around_the_truth_and_cuped_tightens_revenue() -> None:
    rows = customers(60_000, 0.5, 0.10, 0.12, seed=11)
    res = analyse(**rows, weights=WEIGHTS, control="control", mde=0.2)
    t = res.variants[1]
    lift = t.conversion_rate_lift
    assert lift is not None and lift.significant and lift.p_value < 0.001
    assert lift.relative_ci[0] < 0.2 < lift.relative_ci[1]
    assert t.prob_beat_control is not None and t.prob_beat_control > 0.99
    raw, cuped = t.revenue_per_user_lift, t.revenue_per_user_lift_cuped
    assert raw is not None and cuped is not None
    assert cuped.absolute_ci[1] - cuped.absolute_ci[0] < raw.absolute_ci[1] - raw.absolute_ci[0]
    assert res.cuped_variance_reduction is not None and res.cuped_variance_reduction > 0.05
    assert res.trustworthy and not res.srm and res.warnings == []


def test_a_52_48_split_of_100k_users_is_flagged_as_srm_and_untrustworthy() -> None:
    rows = customers(100_000, 0.52, 0.1, 0.1, seed=12)
    res = analyse(**rows, weights=WEIGHTS, control="control")
    assert res.srm and not res.trustworthy and res.srm_p_value < 0.001
    assert any("sample ratio mismatch" in w for w in res.warnings)


def test_real_assignment_of_100k_customers_passes_the_srm_check() -> None:
    exp = experiment(weights=(50, 50))
    variant = [str(assign(exp, customer_id=f"cust-{i}").variant) for i in range(100_000)]
    zeros = np.zeros(len(variant))
    res = analyse(
        variant=variant, conversions=zeros, revenue=zeros, weights=WEIGHTS, control="control"
    )
    assert not res.srm
    assert any("control has no conversions" in w for w in res.warnings)


def test_results_serialise_to_strict_json_even_with_empty_variants() -> None:
    res = analyse(
        variant=["control"],
        conversions=[1],
        revenue=[5.0],
        weights={"control": 50, "v1": 25, "v2": 25},
        control="control",
    )
    text = json.dumps(res.as_dict(), allow_nan=False)
    data = json.loads(text)
    assert [v["users"] for v in data["variants"]] == [1, 0, 0]
    assert data["variants"][1]["conversion_rate"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"revenue": [1.0]}, "revenue has 1 rows"),
        ({"control": "nope"}, "control 'nope'"),
        ({"variant": ["control", "v9"]}, "unknown variant"),
        ({"revenue": [1.0, float("nan")]}, "finite"),
    ],
)
def test_bad_input_gets_a_clear_error(kwargs: dict, message: str) -> None:
    base = {
        "variant": ["control", "v1"],
        "conversions": [0, 1],
        "revenue": [0.0, 2.0],
        "weights": WEIGHTS,
        "control": "control",
    }
    with pytest.raises(InvalidAnalysisInput, match=message):
        analyse(**{**base, **kwargs})
