"""The entry-cohort timeline against a simulated experiment with known rates."""

from __future__ import annotations

import numpy as np

from experiments.timeline import DAY, cohort_timeline


def test_timeline_counts_entries_and_settles_on_the_true_rates():
    rng = np.random.default_rng(11)
    truth = {"control": 0.10, "treat": 0.15}
    variants, first, conversions = [], [], []
    start = 1_700_006_400  # a UTC midnight
    for _ in range(40_000):
        name = "control" if rng.random() < 0.5 else "treat"
        variants.append(name)
        first.append(start + rng.integers(0, 14 * DAY))
        conversions.append(int(rng.random() < truth[name]) * int(rng.integers(1, 3)))
    variants.append("treat")
    first.append(float("nan"))  # no first exposure recorded: left out
    conversions.append(1)
    line = cohort_timeline(variants=variants, first_exposure=first, conversions=conversions,
                           control="control", names=["control", "treat"])  # fmt: skip
    assert line.days == [start + d * DAY for d in range(14)]
    day_of = (np.asarray(first[:-1]) - start) // DAY
    for name in truth:
        expected = [int(((day_of == d) & (np.asarray(variants[:-1]) == name)).sum())
                    for d in range(14)]  # fmt: skip
        assert line.entered[name] == expected
        assert abs(line.cumulative_rate[name][-1] - truth[name]) < 0.01
    assert abs(line.cumulative_lift["treat"][-1] - 0.5) < 0.12


def test_rates_wait_for_customers_and_lifts_for_control_conversions():
    line = cohort_timeline(variants=["treat", "control", "treat"],
                           first_exposure=[0.0, DAY + 5.0, DAY + 9.0], conversions=[1, 0, 0],
                           control="control", names=["control", "treat"])  # fmt: skip
    assert line.cumulative_rate["control"] == [None, 0.0]
    assert line.cumulative_rate["treat"] == [1.0, 0.5]
    assert line.cumulative_lift["treat"] == [None, None]  # control has not converted
    empty = cohort_timeline(variants=[], first_exposure=[], conversions=[], control="a",
                            names=["a", "b"])  # fmt: skip
    assert empty.days == [] and empty.entered == {"a": [], "b": []}
