"""Offline ranking metrics over the full catalogue, written against the `Recommender` API.

Relevance is binary (an item in the customer's test set), as in Microsoft Recommenders:
NDCG@k, Recall@k, Precision@k, MAP@k, HitRate@k per customer then averaged over customers
with at least one test item; plus catalogue coverage, novelty and intra-list diversity.

Two lists are scored per customer: the model's raw top k (every training item excluded), and,
given a `Storefront`, the served list — what the product would answer (`recsys.served`: the
published top-N without what the customer has, then the business rules), under `served_*`.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.models.base import Recommender
from recsys.served import Storefront, published, published_block, serve
from recsys.split import Split

SERVED = "served_"  # prefix of the served list's metrics


def hit_matrix(recommended: np.ndarray, relevant: sp.csr_matrix) -> np.ndarray:
    """(n, k) bool: is recommended[u, r] in customer u's relevant set? (-1 = no item)."""
    rel = sp.csr_matrix(relevant)
    rows = np.repeat(np.arange(recommended.shape[0]), recommended.shape[1])
    cols = recommended.ravel()
    valid = cols >= 0
    hits = np.zeros(rows.size, dtype=bool)
    if valid.any():
        hits[valid] = np.asarray(rel[rows[valid], cols[valid]]).ravel() > 0
    return hits.reshape(recommended.shape)


def ranking_metrics(recommended: np.ndarray, relevant: sp.csr_matrix, k: int) -> dict[str, float]:
    """Mean NDCG/Recall/Precision/MAP/HitRate at k over rows with >= 1 relevant item."""
    rec = recommended[:, :k]
    n_rel = np.diff(sp.csr_matrix(relevant).indptr)
    users = n_rel > 0
    hits = hit_matrix(rec, relevant)[users].astype(np.float64)
    n_rel = n_rel[users].astype(np.float64)
    if hits.shape[0] == 0:
        return {m: float("nan") for m in ("ndcg", "recall", "precision", "map", "hit_rate")}
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = hits @ discount[: hits.shape[1]]
    ideal_len = np.minimum(n_rel, k).astype(int)
    idcg = np.cumsum(discount)[ideal_len - 1]
    cum_hits = np.cumsum(hits, axis=1)
    precision_at_rank = cum_hits / np.arange(1, hits.shape[1] + 1)
    ap = (precision_at_rank * hits).sum(axis=1) / np.minimum(n_rel, k)
    n_hits = hits.sum(axis=1)
    return {
        "ndcg": float(np.mean(dcg / idcg)),
        "recall": float(np.mean(n_hits / n_rel)),
        "precision": float(np.mean(n_hits / k)),
        "map": float(np.mean(ap)),
        "hit_rate": float(np.mean(n_hits > 0)),
    }


def coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one list."""
    return float(np.unique(recommended[recommended >= 0]).size / n_items)


def novelty(recommended: np.ndarray, train: sp.csr_matrix) -> float:
    """Mean self-information -log2(p(item)) of recommended items, p = share of customers
    who interacted with the item in training (unseen items count as 1 customer)."""
    n_users = max(train.shape[0], 1)
    counts = np.diff(sp.csc_matrix(train).indptr).astype(np.float64)
    p = np.maximum(counts, 1.0) / n_users
    items = recommended[recommended >= 0]
    return float(np.mean(-np.log2(p[items]))) if items.size else float("nan")


def intra_list_diversity(
    recommended: np.ndarray,
    *,
    item_vectors: np.ndarray | None = None,
    item_categories: np.ndarray | None = None,
) -> float:
    """Mean pairwise dissimilarity inside each list: 1 - cosine of item vectors, or, given
    categories, the share of pairs from different categories."""
    rec = recommended
    if rec.shape[1] < 2:
        return float("nan")
    valid = rec >= 0
    safe = np.where(valid, rec, 0)
    pair_ok = valid[:, :, None] & valid[:, None, :]
    pair_ok &= ~np.eye(rec.shape[1], dtype=bool)[None]
    if item_categories is not None:
        cats = np.asarray(item_categories)[safe]
        dissim = (cats[:, :, None] != cats[:, None, :]).astype(np.float64)
    elif item_vectors is not None:
        v = np.asarray(item_vectors, np.float64)
        norm = np.linalg.norm(v, axis=1)
        unit = v / np.where(norm == 0, 1.0, norm)[:, None]
        u = unit[safe]
        dissim = 1.0 - np.einsum("nif,njf->nij", u, u)
    else:
        return float("nan")
    per_list = (dissim * pair_ok).sum(axis=(1, 2)) / np.maximum(pair_ok.sum(axis=(1, 2)), 1)
    has_pairs = pair_ok.any(axis=(1, 2))
    return float(per_list[has_pairs].mean()) if has_pairs.any() else float("nan")


def evaluate(
    model: Recommender,
    split: Split,
    *,
    k: int = 10,
    item_categories: np.ndarray | None = None,
    user_features: sp.csr_matrix | None = None,
    max_users: int | None = None,
    seed: int = 0,
    front: Storefront | None = None,
) -> dict[str, float]:
    """Fit-free evaluation of a model trained on `split.train`: full ranking over the
    catalogue, training items excluded, all metrics at k; with `front` (items in the
    matrix's column order) also the served list's, as `served_<metric>`. `max_users`
    evaluates a fixed random sample of test customers (same `seed` -> same sample for every
    model)."""
    users = split.test_users
    if max_users is not None and users.size > max_users:
        users = np.sort(np.random.default_rng(seed).choice(users, max_users, replace=False))
    feats = None if user_features is None else user_features[users]
    recommended, _ = model.recommend(split.train[users], k, user_indices=users, user_features=feats)
    out = ranking_metrics(recommended, split.test[users], k)
    out["coverage"] = coverage(recommended, split.train.shape[1])
    out["novelty"] = novelty(recommended, split.train)
    out["diversity"] = intra_list_diversity(
        recommended, item_vectors=model.item_vectors(), item_categories=item_categories
    )
    out["users"] = float(users.size)
    if front is not None:
        had = split.had[users]
        blocked = published_block(had, front.rules, front.items)
        recs = published(model, split.train[users], blocked, user_indices=users,
                         user_features=feats)  # fmt: skip
        served, _ = serve(front, recs, had, k)
        for name, value in ranking_metrics(served, split.test[users], k).items():
            out[SERVED + name] = value
    return out
