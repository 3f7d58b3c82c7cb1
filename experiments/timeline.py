"""An experiment over time, by entry cohort: customers entering per day and variant (by
their first exposure), and the cumulative conversion rate of each variant among the
customers who had entered by each day, with its relative lift over control.

Conversions are counted to date (the rows keep totals per customer, not dated
conversions), so early cohorts have had longer to convert: the curve shows how the
estimate settled as customers came in, not a rate per day. Pure: lists in, lists out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DAY = 86_400


@dataclass(frozen=True)
class Timeline:
    days: list[int]  # UTC midnight, epoch seconds, oldest first
    entered: dict[str, list[int]]  # variant -> customers whose first exposure fell that day
    cumulative_rate: dict[str, list[float | None]]  # converters / customers entered so far
    cumulative_lift: dict[str, list[float | None]]  # variant -> relative lift over control


def _lift(rates: list[float | None], base: list[float | None]) -> list[float | None]:
    return [r / c - 1 if r is not None and c else None for r, c in zip(rates, base, strict=True)]


def cohort_timeline(
    *,
    variants: Sequence[str],
    first_exposure: Sequence[float],
    conversions: Sequence[int],
    control: str,
    names: Sequence[str],
) -> Timeline:
    """Per day from the first entry to the last: entries and cumulative rates of `names`
    (the variants defined, control among them). Rows without a first exposure time are
    left out; a rate is None until its variant has a customer, a lift until control
    converts."""
    labels = np.asarray(variants, dtype=object)
    first = np.asarray(first_exposure, dtype=np.float64)
    converted = np.asarray(conversions, dtype=np.int64) > 0
    known = np.isfinite(first)
    labels, first, converted = labels[known], first[known], converted[known]
    if not len(first):
        return Timeline([], {n: [] for n in names}, {n: [] for n in names}, {})
    day = (first // DAY).astype(np.int64)
    days = np.arange(day.min(), day.max() + 1)
    entered: dict[str, list[int]] = {}
    rate: dict[str, list[float | None]] = {}
    for name in names:
        mine = labels == name
        users = np.bincount(day[mine] - days[0], minlength=len(days))
        wins = np.bincount(day[mine & converted] - days[0], minlength=len(days))
        total_users, total_wins = np.cumsum(users), np.cumsum(wins)
        entered[name] = [int(n) for n in users]
        rate[name] = [float(w / u) if u else None
                      for w, u in zip(total_wins, total_users, strict=True)]  # fmt: skip
    base = rate.get(control, [None] * len(days))
    lift = {name: _lift(rate[name], base) for name in names if name != control}
    return Timeline([int(d) * DAY for d in days], entered, rate, lift)
