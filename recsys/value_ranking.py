"""Value rules: offers by expected value, rewards by affordability and affinity.

Propensities here are relative (each signal scaled to its best item), not calibrated
probabilities: the published signals are model scores and decayed popularity. Blending the
personal (hybrid model) score, the customer's segment and the overall offer popularity gives
P(redeem | customer, offer) up to a constant, which is all a ranking by P × margin needs.
An offer with no signal at all (brand new) gets half the mean propensity of the offers of
its category: a prior from its features rather than zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

Ranked = tuple[NDArray[np.integer], NDArray[np.floating]]
ByAffinity = tuple[NDArray[np.uint32], NDArray[np.int64], NDArray[np.float32]]  # rewards, costs
BLEND = (0.5, 0.3, 0.2)  # personal, segment, overall
COLD_PRIOR_SHARE = 0.5


def scaled(ranked: Ranked | None, subset: NDArray[np.int64]) -> NDArray[np.float64]:
    """The list's scores on `subset` (0 where absent), divided by its best score there.

    `subset` is ascending (a kind's items in catalogue order, as the catalogue keeps them), so
    the list's items are found by binary search: no array the size of the catalogue."""
    out = np.zeros(len(subset), np.float64)
    if ranked is not None and len(ranked[0]) and len(subset):
        idx = ranked[0].astype(np.int64)
        pos = np.minimum(np.searchsorted(subset, idx), len(subset) - 1)
        ok = subset[pos] == idx
        out[pos[ok]] = np.clip(ranked[1][ok], 0.0, None)
    top = out.max() if len(out) else 0.0
    return out / top if top > 0 else out


def propensity(
    parts: Sequence[NDArray[np.float64]],
    categories: NDArray[np.int64],
    weights: Sequence[float] = BLEND,
) -> NDArray[np.float64]:
    """Blended relative propensity of each item of a subset, from each signal read onto it
    (`scaled`, one array per weight); cold items get a category prior."""
    present = [(w, p) for w, p in zip(weights, parts, strict=True) if p.any()]
    if not present:
        return np.full(len(categories), 0.5)
    total = sum(w for w, _ in present)
    blend: NDArray[np.float64] = np.zeros(len(categories), np.float64)
    for w, p in present:
        blend += (w / total) * p
    cold = blend <= 0
    if cold.any():
        warm = ~cold
        overall = blend[warm].mean() if warm.any() else 0.5
        sums = np.bincount(categories[warm], weights=blend[warm], minlength=categories.max() + 1)
        counts = np.bincount(categories[warm], minlength=categories.max() + 1)
        by_category = np.where(counts > 0, sums / np.maximum(counts, 1), overall)
        blend = np.where(cold, COLD_PRIOR_SHARE * by_category[categories], blend)
    return np.asarray(blend, np.float64)


def offers_by_value(
    offers: NDArray[np.int64],
    margins: NDArray[np.float64],
    categories: NDArray[np.int64],
    parts: Sequence[NDArray[np.float64]],
) -> Ranked:
    """Offers sorted by expected value = propensity × margin (margin floored at a cent);
    `parts`: the signals read onto `offers` (`scaled`)."""
    if not len(offers):
        return offers.astype(np.uint32), np.empty(0, np.float32)
    value = propensity(parts, categories) * np.maximum(margins, 0.01)
    order = np.argsort(-value, kind="stable")
    return offers[order].astype(np.uint32), value[order].astype(np.float32)


def rewards_by_affinity(
    rewards: NDArray[np.int64],
    costs: NDArray[np.int64],
    categories: NDArray[np.int64],
    parts: Sequence[NDArray[np.float64]],
) -> ByAffinity:
    """Rewards sorted by affinity (`propensity`), with their costs; `parts`: the signals
    read onto `rewards` (`scaled`). `by_points` then splits them for a balance."""
    if not len(rewards):
        return np.empty(0, np.uint32), np.empty(0, np.int64), np.empty(0, np.float32)
    affinity = propensity(parts, categories)
    order = np.argsort(-affinity, kind="stable")
    return rewards[order].astype(np.uint32), costs[order], affinity[order].astype(np.float32)


def by_points(ranked: ByAffinity, points: int) -> tuple[Ranked, Ranked]:
    """(affordable rewards by affinity, out-of-reach rewards by affinity with the points
    still needed as their "scores"), for a balance of `points`."""
    rewards, costs, affinity = ranked
    ok = costs <= points
    affordable = (rewards[ok], affinity[ok])
    needed = (rewards[~ok], (costs[~ok] - points).astype(np.float32))
    return affordable, needed
