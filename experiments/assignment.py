"""Deterministic, sticky assignment of customers to variants, computed in-process.

Three independent hashes of the customer id, each into 10,000 buckets:
1. the global holdout (one salt for every experiment, so a held-out customer is held out of
   all of them): buckets below `holdout_percent * 100` get no experiment;
2. the layer (salted by the layer name): an experiment owns `layer_buckets` of its layer, so
   experiments of one layer never share a customer;
3. the variant (salted by the experiment): the bucket falls in one variant's ranges of the
   allocation, which stays put when weights change (see `allocation.py`).
The hash is BLAKE2b (stable across processes and Python versions, unlike `hash()`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from experiments.allocation import BUCKETS, variant_of
from experiments.model import Experiment

HOLDOUT_SALT = "touchpoint:holdout"

Reason = Literal["assigned", "not_live", "not_targeted", "holdout", "other_experiment"]


def bucket(salt: str, customer_id: str) -> int:
    """The customer's bucket in `[0, 10000)` for this salt."""
    digest = hashlib.blake2b(f"{salt}\x1f{customer_id}".encode(), digest_size=8).digest()
    # 2**64 % 10000 leaves a bias below 1e-15: negligible.
    return int.from_bytes(digest, "big") % BUCKETS


def buckets(salt: str, customer_ids: Iterable[str]) -> npt.NDArray[np.int64]:
    """`bucket` for many customers (simulations, reports)."""
    return np.fromiter((bucket(salt, c) for c in customer_ids), dtype=np.int64)


@dataclass(frozen=True)
class Assignment:
    """The outcome for one customer and one experiment; `variant` is None unless assigned."""

    experiment: str
    variant: str | None
    reason: Reason

    @property
    def assigned(self) -> bool:
        return self.variant is not None


def is_held_out(customer_id: str, holdout_percent: float) -> bool:
    return bucket(HOLDOUT_SALT, customer_id) < round(holdout_percent * BUCKETS / 100)


def in_layer(experiment: Experiment, customer_id: str) -> bool:
    lo, hi = experiment.layer_buckets
    return lo <= bucket(f"layer:{experiment.layer_name}", customer_id) < hi


def assign(
    experiment: Experiment,
    *,
    customer_id: str,
    channel: str | None = None,
    segments: Sequence[str] = (),
    now: datetime | None = None,
) -> Assignment:
    """The customer's variant in `experiment`, or why there is none.

    `channel` None skips channel targeting (e.g. a plain assignment lookup); segment
    targeting needs the customer's segments.
    """
    key = experiment.key
    if not experiment.is_live(now or datetime.now(UTC)):
        return Assignment(key, None, "not_live")
    target = experiment.targeting
    if channel is not None and target.channels and channel not in target.channels:
        return Assignment(key, None, "not_targeted")
    if target.segments and not set(target.segments) & set(segments):
        return Assignment(key, None, "not_targeted")
    if is_held_out(customer_id, experiment.holdout_percent):
        return Assignment(key, None, "holdout")
    if not in_layer(experiment, customer_id):
        return Assignment(key, None, "other_experiment")
    assert experiment.allocation is not None  # filled by validation
    variant = variant_of(experiment.allocation, bucket(experiment.variant_salt, customer_id))
    return Assignment(key, variant, "assigned")


def assign_all(
    experiments: Iterable[Experiment],
    *,
    customer_id: str,
    channel: str | None = None,
    segments: Sequence[str] = (),
    now: datetime | None = None,
) -> list[Assignment]:
    """Every experiment the customer is in right now (at most one per layer)."""
    moment = now or datetime.now(UTC)
    found = []
    for exp in experiments:
        result = assign(
            exp, customer_id=customer_id, channel=channel, segments=segments, now=moment
        )
        if result.assigned:
            found.append(result)
    return found
