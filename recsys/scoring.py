"""Batch scoring for campaigns: top-k for many customers, vectorised and batched.

Known customers are scored by the model; customers the model has never seen are folded in
from their history, scored from their attributes by a hybrid model, or, with nothing to go
on, given the cold-start ranking (popularity). Lists are topped up from that ranking, so
no listed customer ever gets an empty answer while the allowed catalogue has items.
The request-time helpers `fold_in` and `top_k` live in `recsys.serving` (numpy only).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.errors import InvalidInputError
from recsys.models.base import BATCH_USERS, Recommender
from recsys.serving import fold_in, top_k, top_k_rows

__all__ = ["fold_in", "recommend_batch", "top_k"]


def recommend_batch(
    model: Recommender,
    *,
    k: int,
    user_indices: np.ndarray,
    history: sp.csr_matrix,
    fallback_scores: np.ndarray,
    purchased: sp.csr_matrix | None = None,
    include_purchased: bool = False,
    allowed_items: np.ndarray | None = None,
    user_features: sp.csr_matrix | None = None,
    batch_size: int = BATCH_USERS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Top-k item indices, scores and a cold-start flag for each requested customer.

    Parameters
    ----------
    user_indices : (n,) model row per requested customer, -1 when unknown to the model.
    history : (n, n_items) current interactions of the requested customers (fold-in input).
    fallback_scores : (n_items,) cold-start ranking (e.g. popularity).
    purchased : (n, n_items) items to exclude unless `include_purchased`.
    allowed_items : (n_items,) bool mask of items that may be recommended (kind, channel).
    user_features : (n, n_features) attribute rows for hybrid models.

    Returns (items (n, k) int64 padded with -1 only if the allowed catalogue runs out,
    scores (n, k) float32, cold (n,) bool: answered from the cold-start ranking).
    """
    n = user_indices.shape[0]
    if history.shape != (n, model.n_items):
        raise InvalidInputError(f"history must be ({n}, {model.n_items}), got {history.shape}")
    if fallback_scores.shape != (model.n_items,):
        raise InvalidInputError("fallback_scores needs one score per model item")
    allowed = np.ones(model.n_items, bool) if allowed_items is None else allowed_items
    if not allowed.any():
        raise InvalidInputError("no item is allowed by the filters: nothing to recommend")
    has_history = np.diff(history.indptr) > 0
    has_features = (
        np.diff(user_features.indptr) > 0
        if user_features is not None and model.scores_from_features
        else np.zeros(n, bool)
    )
    cold = (user_indices < 0) & ~has_history & ~has_features
    fallback = np.where(allowed, fallback_scores, -np.inf).astype(np.float32)
    items = np.empty((n, k), np.int64)
    scores = np.empty((n, k), np.float32)
    for start in range(0, n, batch_size):
        sl = slice(start, min(n, start + batch_size))
        feats = None if user_features is None else user_features[sl]
        s = model.score(history[sl], user_indices=user_indices[sl], user_features=feats)
        if not s.flags.writeable:
            s = s.copy()
        s[cold[sl]] = fallback
        s[:, ~allowed] = -np.inf
        blocked = None
        if purchased is not None and not include_purchased:
            blocked = purchased[sl].tocoo()
            s[blocked.row, blocked.col] = -np.inf
        idx, val = top_k_rows(s, k)
        _top_up(idx, val, fallback, blocked)
        items[sl], scores[sl] = idx, val
    return items, scores, cold


def _top_up(
    idx: np.ndarray, val: np.ndarray, fallback: np.ndarray, blocked: sp.coo_matrix | None
) -> None:
    """Fill -1 slots from the fallback ranking (skipping items already listed or blocked)."""
    short = np.flatnonzero((idx < 0).any(axis=1))
    if not short.size:
        return
    order = np.argsort(-fallback, kind="stable")
    order = order[np.isfinite(fallback[order])]
    for r in short:
        taken = set(idx[r][idx[r] >= 0].tolist())
        if blocked is not None:
            taken |= set(blocked.col[blocked.row == r].tolist())
        extra = [i for i in order if i not in taken][: int((idx[r] < 0).sum())]
        slots = np.flatnonzero(idx[r] < 0)[: len(extra)]
        idx[r, slots] = extra
        val[r, slots] = fallback[extra] if extra else val[r, slots]


def to_frame(
    customer_ids: Sequence[str] | np.ndarray,
    item_ids: np.ndarray,
    items: np.ndarray,
    scores: np.ndarray,
) -> pd.DataFrame:
    """Long table `customer_id, rank, item_id, score` (padding dropped), rank from 1."""
    n, k = items.shape
    keep = (items >= 0).ravel()
    flat = items.ravel()[keep]
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(customer_ids, dtype=object), k)[keep],
            "rank": np.tile(np.arange(1, k + 1), n)[keep],
            "item_id": np.asarray(item_ids, dtype=object)[flat],
            "score": scores.ravel()[keep],
        }
    )
