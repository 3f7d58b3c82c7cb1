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
    y = np.asarray(item_factors, dtype=np.float64)
    idx = np.asarray(item_indices, dtype=np.int64)
    conf = alpha * np.asarray(weights, dtype=np.float64)
    if idx.shape != conf.shape:
        raise InvalidInput("item_indices and weights must have the same length")
    if idx.size and (idx.min() < 0 or idx.max() >= y.shape[0]):
        raise InvalidInput(f"item index out of range 0..{y.shape[0] - 1}")
    f = y.shape[1]
    if idx.size == 0:
        return np.zeros(f, dtype=np.float32)
    base = y.T @ y if yty is None else np.asarray(yty, dtype=np.float64)
    yi = y[idx]
    a = base + regularization * np.eye(f) + (yi.T * (conf - 1.0)) @ yi
    b = (yi * conf[:, None]).sum(axis=0)
    return np.linalg.solve(a, b).astype(np.float32)


def top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top-k of a dense (n, m) score array, best first.

    Entries scored -inf (excluded) are returned as index -1, so rows with fewer than k
    candidates are padded rather than filled with excluded items.
    """
    if k <= 0:
        raise InvalidInput("k must be positive")
    n, m = scores.shape
    kk = min(k, m)
    if kk < m:  # partition on the scores themselves: no negated copy of a large block
        part = np.argpartition(scores, m - kk, axis=1)[:, m - kk :]
    else:
        part = np.tile(np.arange(m), (n, 1))
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-part_scores, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    val = np.take_along_axis(part_scores, order, axis=1).astype(np.float32)
    idx[~np.isfinite(val)] = -1
    if kk < k:
        idx = np.pad(idx, ((0, 0), (0, k - kk)), constant_values=-1)
        val = np.pad(val, ((0, 0), (0, k - kk)), constant_values=-np.inf)
    return idx, val


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
    idx, val = top_k_rows(scores[None, :], k)
    keep = idx[0] >= 0
    return idx[0][keep], val[0][keep]
