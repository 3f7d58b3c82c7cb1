"""Numpy-only helpers for request-time scoring: ALS fold-in and top-k with exclusions.

The API imports these (no implicit, no pandas on the request path): a customer's fresh
events are folded into a user vector against the published item factors, then ranked.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from contracts.errors import InvalidInput


def fold_in(
    item_factors: np.ndarray,
    regularization: float,
    item_indices: Sequence[int] | np.ndarray,
    weights: Sequence[float] | np.ndarray,
    *,
    alpha: float = 1.0,
    yty: np.ndarray | None = None,
) -> np.ndarray:
    """User vector that best explains `weights` on `item_indices` given fixed item factors.

    The exact ALS user step, as implicit's `recalculate_user`:
    x = (YᵀY + λI + Σ (c_i - 1) y_i y_iᵀ)⁻¹ Σ c_i y_i with c_i = alpha * w_i.
    Pass a precomputed `yty` (YᵀY) to save O(n_items * f²) per call.
    """
    idx = np.asarray(item_indices, dtype=np.int64)
    conf = alpha * np.asarray(weights, dtype=np.float64)
    if idx.shape != conf.shape:
        raise InvalidInput("item_indices and weights must have the same length")
    f = np.shape(item_factors)[1]
    if idx.size == 0:  # before the float64 copy of the factors (a batch folds in many)
        return np.zeros(f, dtype=np.float32)
    y = np.asarray(item_factors, dtype=np.float64)
    if idx.min() < 0 or idx.max() >= y.shape[0]:
        raise InvalidInput(f"item index out of range 0..{y.shape[0] - 1}")
    base = y.T @ y if yty is None else np.asarray(yty, dtype=np.float64)
    yi = y[idx]
    a = base + regularization * np.eye(f) + (yi.T * (conf - 1.0)) @ yi
    b = (yi * conf[:, None]).sum(axis=0)
    return np.linalg.solve(a, b).astype(np.float32)


SAMPLE_EVERY = 8  # the columns a sampled floor reads (`_sampled`)


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense (n, m) score array, best first.

    Entries scored -inf (excluded) are returned as index -1, so rows with fewer than k
    candidates are padded rather than filled with excluded items. Equal scores list the lower
    item index first, and a tie at the k-th place keeps the lowest indices, so a row's answer
    never depends on the rows ranked with it (the batch ranks customers in blocks of any
    size). NaN scores are never returned (index -1, score -inf), and a row holding NaN gets
    fewer items, as if they outranked every number. `top_k` (one row, on the request path)
    keeps `np.argpartition`: there, equal scores come in no particular order.
    """
    if k <= 0:
        raise InvalidInput("k must be positive")
    kk = min(k, scores.shape[1])
    return _padded(*_by_threshold(scores, kk), k)


def _padded(idx: np.ndarray, val: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """-1 for every entry not finite, and the rows padded to k with -1 / -inf."""
    idx[~np.isfinite(val)] = -1
    if idx.shape[1] < k:
        pad = ((0, 0), (0, k - idx.shape[1]))
        idx = np.pad(idx, pad, constant_values=-1)
        val = np.pad(val, pad, constant_values=-np.inf)
    return idx, val


def _by_argpartition(scores: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `kk` per row by `np.argpartition` (cheap for one row)."""
    n, m = scores.shape
    if kk < m:  # partition on the scores themselves: no negated copy of a large block
        part = np.argpartition(scores, m - kk, axis=1)[:, m - kk :]
    else:
        part = np.tile(np.arange(m), (n, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    val = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    return idx, val


def _by_threshold(scores: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `kk` per row for many rows, ranked as `_exact_rows` does: from a sampled floor
    where the rows are long enough (`_sampled`), exactly for the rows it cannot answer."""
    n, m = scores.shape
    idx = np.full((n, kk), -1, np.int64)
    val = np.full((n, kk), -np.inf, np.float32)
    rest = np.arange(n)
    if m >= 4 * SAMPLE_EVERY * kk:
        rest = np.flatnonzero(~_sampled(scores, kk, idx, val))
    if len(rest):
        idx[rest], val[rest] = _exact_rows(scores if len(rest) == n else scores[rest], kk)
    return idx, val


def _exact_rows(scores: np.ndarray, kk: int) -> tuple[np.ndarray, np.ndarray]:
    """Top `kk` per row: each row's kk-th best value by `np.partition` (values only, ~4x
    cheaper than `argpartition`), the entries at or above it gathered in index order and
    sorted (stable: equal scores keep the lower index first). A row with more than kk such
    entries (a tie at the threshold, or -inf there) keeps those above it and the
    lowest-indexed ones equal to it; NaN entries are never gathered (a row with some holds
    fewer, as `np.partition` counts them as the largest)."""
    n, m = scores.shape
    threshold = np.partition(scores, m - kk, axis=1)[:, m - kk : m - kk + 1]
    picked = scores >= threshold
    odd = np.flatnonzero(np.count_nonzero(picked, axis=1) != kk)
    picked[odd] = False  # ranked apart below (ties at the threshold, NaN)
    rows, cols = np.divmod(np.flatnonzero(picked), m)  # 1-D: far cheaper than a 2-D nonzero
    idx, val = _ranked(rows, cols, scores[rows, cols], n, kk)
    if len(odd):
        sub, at = scores[odd], threshold[odd]
        above = sub > at
        room = kk - np.count_nonzero(above, axis=1)
        tied = np.flatnonzero(sub == at)
        row = tied // m
        rank = np.arange(len(tied)) - np.searchsorted(row, np.arange(len(odd)))[row]
        above.ravel()[tied[rank < room[row]]] = True  # the lowest-indexed equal ones
        rows, cols = np.divmod(np.flatnonzero(above), m)
        idx[odd], val[odd] = _ranked(rows, cols, sub[rows, cols], len(odd), kk)
    return idx, val


def _sampled(scores: np.ndarray, kk: int, idx: np.ndarray, val: np.ndarray) -> np.ndarray:
    """Fill `idx`, `val` for the rows whose top `kk` a floor read off every `SAMPLE_EVERY`-th
    column shows exactly, and say which rows those are. The floor is a value the sample's
    top few reach (in a row, about 1.7 kk entries reach it); a row where at least kk and at
    most `8 kk` entries reach it and none is NaN has its top kk among them, every entry
    equal to the kk-th included, so ranking those as `_exact_rows` does gives its answer."""
    m = scores.shape[1]
    sample = scores[:, ::SAMPLE_EVERY]
    size = sample.shape[1]
    expected = kk / SAMPLE_EVERY
    j = min(size, int(expected + 2 * np.sqrt(expected)) + 2)
    floor = np.partition(sample, size - j, axis=1)[:, size - j : size - j + 1]
    rows, cols = np.divmod(np.flatnonzero(scores >= floor), m)
    counts = np.bincount(rows, minlength=len(scores))
    # a NaN anywhere (the sum is NaN: also +inf with -inf, harmlessly) goes the exact way
    done = (counts >= kk) & (counts <= 8 * kk) & ~np.isnan(scores.sum(axis=1))
    keep = done[rows]
    ok = np.flatnonzero(done)
    if len(ok):
        slot = np.cumsum(done) - 1  # a row's place among the rows answered here
        rows, cols = slot[rows[keep]], cols[keep]
        idx[ok], val[ok] = _ranked(rows, cols, scores[ok[rows], cols], len(ok), kk)
    return done


def _ranked(
    rows: np.ndarray, cols: np.ndarray, values: np.ndarray, n: int, kk: int
) -> tuple[np.ndarray, np.ndarray]:
    """The best `kk` of the entries (`rows`, `cols`, `values`) of each of `n` rows, listed
    row by row in index order, best first (stable: equal scores keep the lower index first);
    a row with fewer is padded with -1 / -inf."""
    starts = np.searchsorted(rows, np.arange(n))
    width = max(kk, int(np.diff(np.r_[starts, len(rows)]).max(initial=0)))
    at = (rows, np.arange(len(rows)) - starts[rows])
    found = np.full((n, width), -1, np.int64)
    found[at] = cols
    value = np.full((n, width), -np.inf, values.dtype)
    value[at] = values
    order = np.argsort(-value, axis=1, kind="stable")[:, :kk]  # on the scores as given
    idx = np.take_along_axis(found, order, axis=1)
    return idx, np.take_along_axis(value, order, axis=1).astype(np.float32)


def top_k(
    user_vector: np.ndarray,
    item_factors: np.ndarray,
    k: int,
    exclude_indices: Sequence[int] | np.ndarray = (),
    *,
    item_bias: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k item indices and scores for one user vector, excluded items never returned."""
    scores = np.asarray(item_factors, dtype=np.float32) @ np.asarray(user_vector, np.float32)
    if item_bias is not None:
        scores = scores + item_bias
    scores = scores.astype(np.float32, copy=True)
    excl = np.asarray(exclude_indices, dtype=np.int64)
    if excl.size:
        scores[excl] = -np.inf
    if k <= 0:
        raise InvalidInput("k must be positive")
    idx, val = _padded(*_by_argpartition(scores[None, :], min(k, len(scores))), k)
    keep = idx[0] >= 0
    return idx[0][keep], val[0][keep]
