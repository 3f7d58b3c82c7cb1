"""Train/test splits for offline evaluation and model selection.

`random_split` (the product's default for model selection) holds out a random fraction of
each customer's items, the protocol of the published benchmarks. `recent_split` holds out
each customer's most recent items. `temporal_split` cuts the event log at one global time
point, so nothing from the test period leaks into training, but only customers active on
both sides of the cut are measured. Test pairs are binary relevance,
restricted to customers and items known at training time and to items not already in
the customer's training history (those are excluded from recommendations anyway).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.matrix import Interactions, WeightConfig, build_interactions, event_weights


@dataclass(frozen=True)
class Split:
    """Train confidences and binary test relevance over the same customers x items, and
    what each customer already had in the training period (`recsys.consumption`; None:
    every training interaction counts as had)."""

    train: sp.csr_matrix
    test: sp.csr_matrix
    consumed: sp.csr_matrix | None = None

    @property
    def had(self) -> sp.csr_matrix:
        """The training period's consumed pairs (every training pair when not given)."""
        if self.consumed is not None:
            return self.consumed
        seen = sp.csr_matrix(self.train, copy=True)
        seen.data[:] = 1.0
        return seen

    @property
    def test_users(self) -> np.ndarray:
        return np.flatnonzero(np.diff(self.test.indptr) > 0)


def _check_fraction(test_fraction: float) -> None:
    if not 0.0 < test_fraction < 1.0:
        raise InvalidInput(f"test_fraction must be in (0, 1), got {test_fraction}")


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


def recent_split(
    matrix: sp.csr_matrix,
    first_seen: sp.csr_matrix,
    *,
    test_fraction: float = 0.2,
    min_items: int = 2,
) -> Split:
    """Per customer, move the round(test_fraction * n) items they came to last (by
    `first_seen`: the time of the first event on each pair, any number that orders, stored
    where `matrix` stores) to test; customers with fewer than `min_items` items stay whole
    in train. Ties in time keep the matrix's order."""
    _check_fraction(test_fraction)
    x = sp.csr_matrix(matrix, dtype=np.float32)
    when = sp.csr_matrix(first_seen)
    if when.shape != x.shape or not np.array_equal(when.indptr, x.indptr):
        raise InvalidInput("first_seen must store a time for every stored pair of matrix")
    x.sort_indices()
    when.sort_indices()
    counts = np.diff(x.indptr)
    rows = np.repeat(np.arange(x.shape[0]), counts)
    order = np.lexsort((np.arange(x.nnz), when.data, rows))  # by customer, then time
    rank = np.empty(x.nnz, np.int64)
    rank[order] = np.arange(x.nnz) - np.repeat(x.indptr[:-1], counts)[order]
    n_test = np.where(counts >= min_items, np.round(test_fraction * counts), 0).astype(np.int64)
    in_test = rank >= (counts - n_test)[rows]
    train = sp.csr_matrix((x.data[~in_test], (rows[~in_test], x.indices[~in_test])), x.shape)
    test = sp.csr_matrix(
        (np.ones(in_test.sum(), np.float32), (rows[in_test], x.indices[in_test])), shape=x.shape
    )
    return Split(train=train, test=test)


def first_seen(events: pd.DataFrame, interactions: Interactions) -> sp.csr_matrix:
    """Epoch seconds of the first event on each pair `interactions.matrix` stores, stored
    alike (the order `recent_split` holds items out in)."""
    if "timestamp" not in events:
        raise InvalidInput("a recent split needs a 'timestamp' column in events")
    x = interactions.matrix.tocsr()
    rows = interactions.customers.lookup(events["customer_id"].to_numpy())
    cols = interactions.items.lookup(events["item_id"].to_numpy())
    ok = (rows >= 0) & (cols >= 0)
    ts = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)
    seconds = ts.astype("datetime64[ns]").to_numpy().view(np.int64)[ok] / 1e9
    key = rows[ok] * x.shape[1] + cols[ok]
    earliest = pd.Series(seconds).groupby(key).min()
    stored = np.repeat(np.arange(x.shape[0]), np.diff(x.indptr)) * x.shape[1] + x.indices
    times = earliest.reindex(stored).to_numpy(dtype=np.float64)
    return sp.csr_matrix((np.nan_to_num(times), x.indices.copy(), x.indptr.copy()), x.shape)


def training_period(events: pd.DataFrame, test_fraction: float) -> np.ndarray:
    """One bool per event: before the global time cut that leaves the last `test_fraction`
    of events (by time) to the test period."""
    _check_fraction(test_fraction)
    if "timestamp" not in events:
        raise InvalidInput("a temporal split needs a 'timestamp' column in events")
    # int64 nanoseconds: sorting tz-aware Timestamps as objects is ~100x slower
    ts = pd.to_datetime(events["timestamp"], utc=True).dt.tz_localize(None)
    ns = ts.astype("datetime64[ns]").to_numpy().view(np.int64)
    cutoff = np.partition(ns, min(int(ns.size * (1.0 - test_fraction)), ns.size - 1))
    cutoff_ns = cutoff[min(int(ns.size * (1.0 - test_fraction)), ns.size - 1)]
    before = ns < cutoff_ns
    if before.all() or not before.any():
        raise InvalidInput("all events share one timestamp: a temporal split is impossible")
    return before


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
    before = training_period(events, test_fraction)
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
