"""Leakage-free train/test splits for offline evaluation.

`temporal_split` (the default) cuts the event log at one global time point, so nothing
from the test period leaks into training. `random_split` holds out a random fraction of
each customer's items (the MovieLens benchmark protocol). Test pairs are binary relevance,
restricted to customers and items known at training time and to items not already in
the customer's training history (those are excluded from recommendations anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.matrix import Interactions, WeightConfig, build_interactions, event_weights


@dataclass(frozen=True)
class Split:
    """Train confidences and binary test relevance over the same customers x items."""

    train: sp.csr_matrix
    test: sp.csr_matrix

    @property
    def test_users(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.test.indptr) > 0)


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInputError(f"test_fraction must be in (0, 1), got {test_fraction}")


def random_split(
    matrix: sp.csr_matrix, *, test_fraction: float = 0.25, seed: int = 42, min_items: int = 2
) -> Split:
    """Per customer, move round(test_fraction * n) random items to test (customers with
    fewer than `min_items` items stay entirely in train)."""
    _check_fraction(test_fraction)
    x = sp.csr_matrix(matrix, dtype=np.float32)
    rng = np.random.default_rng(seed)
    counts = np.diff(x.indptr)
    in_test = np.zeros(x.nnz, dtype=bool)
    for u in np.flatnonzero(counts >= min_items):
        n_test = round(test_fraction * counts[u])
        if n_test:
            lo = x.indptr[u]
            in_test[lo + rng.choice(counts[u], size=n_test, replace=False)] = True
    rows = np.repeat(np.arange(x.shape[0]), counts)
    train = sp.csr_matrix((x.data[~in_test], (rows[~in_test], x.indices[~in_test])), shape=x.shape)
    test = sp.csr_matrix(
        (np.ones(in_test.sum(), np.float32), (rows[in_test], x.indices[in_test])), shape=x.shape
    )
    return Split(train=train, test=test)


def temporal_split(
    events: pd.DataFrame,
    *,
    test_fraction: float = 0.2,
    config: WeightConfig | None = None,
    customer_ids: Iterable[object] | None = None,
    item_ids: Iterable[object] | None = None,
) -> tuple[Interactions, sp.csr_matrix]:
    """Global time cut: the last `test_fraction` of events (by time) form the test period.

    Returns the training `Interactions` (rows/columns from training events, or the given
    ids, e.g. to align with a model trained on everything) and a binary test matrix
    aligned with it. Customers with no training history have no test rows: there is
    nothing to personalise from, which is the cold-start path, not what is measured here.
    """
    _check_fraction(test_fraction)
    if "timestamp" not in events:
        raise InvalidInputError("a temporal split needs a 'timestamp' column in events")
    # int64 nanoseconds: sorting tz-aware Timestamps as objects is ~100x slower
    ts = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)
    ns = ts.astype("datetime64[ns]").to_numpy().view(np.int64)
    cutoff = np.partition(ns, min(int(ns.size * (1.0 - test_fraction)), ns.size - 1))
    cutoff_ns = cutoff[min(int(ns.size * (1.0 - test_fraction)), ns.size - 1)]
    before = ns < cutoff_ns
    if before.all() or not before.any():
        raise InvalidInputError("all events share one timestamp: a temporal split is impossible")
    config = config or WeightConfig()
    train_events = events[before]
    train = build_interactions(
        train_events,
        config=config,
        customer_ids=customer_ids,
        item_ids=item_ids,
        drop_unknown=True,
    )
    later = events[~before]
    positive = event_weights(later, config) > 0
    rows = train.customers.lookup(later["customer_id"].to_numpy())
    cols = train.items.lookup(later["item_id"].to_numpy())
    has_history = np.diff(train.matrix.indptr) > 0
    keep = positive & (rows >= 0) & (cols >= 0)
    keep &= has_history[np.where(rows >= 0, rows, 0)]
    test = sp.csr_matrix(
        (np.ones(keep.sum(), np.float32), (rows[keep], cols[keep])), shape=train.matrix.shape
    )
    test.data[:] = 1.0
    test.sum_duplicates()
    test.data[:] = 1.0
    seen = train.matrix.copy()
    seen.data[:] = 1.0
    test = sp.csr_matrix(test - test.multiply(seen))
    test.eliminate_zeros()
    return train, test
