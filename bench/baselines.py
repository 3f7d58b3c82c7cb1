"""The baselines `bench/quality.py` runs beside the product in the same session: popularity
and implicit's ALS, BPR, BM25 and cosine item-KNN with the library's defaults, fitted on the
same training events (every event a binary interaction), training items excluded."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = ["popularity_lists", "run_baselines"]


def interaction_matrix(events: pd.DataFrame) -> tuple[sp.csr_matrix, pd.Index, pd.Index]:
    """Binary customer x item CSR of the training events, with its row and column ids."""
    users = pd.Index(pd.unique(events["customer_id"]))
    items = pd.Index(pd.unique(events["item_id"]))
    rows = users.get_indexer(events["customer_id"])
    cols = items.get_indexer(events["item_id"])
    x = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(users), len(items))
    )
    x.sum_duplicates()
    x.data[:] = 1.0
    return x, users, items


def popularity_lists(
    events: pd.DataFrame, customers: Sequence[str], k: int
) -> dict[str, list[str]]:
    """The popularity baseline alone: customer -> the k items with the most training
    customers that this customer has not had."""
    x, users, items = interaction_matrix(events)
    rows = users.get_indexer(pd.Index(list(customers)))
    return dict(zip(customers, _popularity_lists(x, items, rows, k), strict=True))


def _popularity_lists(
    x: sp.csr_matrix, items: pd.Index, rows: np.ndarray, k: int
) -> list[list[str]]:
    counts = np.asarray(x.getnnz(axis=0), dtype=np.float64)
    order = np.argsort(-counts, kind="stable")  # ties: first-seen item first
    out = []
    for r in rows:
        seen = set(x.indices[x.indptr[r] : x.indptr[r + 1]]) if r >= 0 else set()
        top: list[str] = []
        for j in order:
            if j not in seen:
                top.append(str(items[j]))
                if len(top) == k:
                    break
        out.append(top)
    return out


def baseline_models() -> dict[str, Callable[[], Any]]:
    from implicit.als import AlternatingLeastSquares
    from implicit.bpr import BayesianPersonalizedRanking
    from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

    return {
        "implicit ALS (defaults)": lambda: AlternatingLeastSquares(random_state=0),
        "implicit BPR (defaults)": lambda: BayesianPersonalizedRanking(random_state=0),
        "implicit BM25 item-KNN (defaults)": BM25Recommender,
        "implicit cosine item-KNN (defaults)": CosineRecommender,
    }


def run_baselines(
    events: pd.DataFrame, customers: Sequence[str], k: int
) -> dict[str, tuple[dict[str, list[str]], float]]:
    """name -> (customer -> top-k item ids, seconds to fit and recommend)."""
    x, users, items = interaction_matrix(events)
    rows = users.get_indexer(pd.Index(list(customers)))
    known = rows >= 0
    out: dict[str, tuple[dict[str, list[str]], float]] = {}

    t0 = time.perf_counter()
    pop = _popularity_lists(x, items, rows, k)
    out["popularity"] = (dict(zip(customers, pop, strict=True)), time.perf_counter() - t0)

    for name, make in baseline_models().items():
        t0 = time.perf_counter()
        model = make()
        with warnings.catch_warnings():  # implicit's item-KNN converts its own COO weights
            warnings.filterwarnings("ignore", message="Method expects CSR input")
            model.fit(x, show_progress=False)
        userids = rows[known].astype(np.int32)
        ids, _scores = model.recommend(userids, x[userids], N=k, filter_already_liked_items=True)
        lists: dict[str, list[str]] = {}
        ids_iter = iter(np.atleast_2d(ids))
        for c, r, fallback in zip(customers, rows, pop, strict=True):
            if r < 0:
                lists[c] = fallback
            else:
                lists[c] = [str(items[j]) for j in next(ids_iter) if j >= 0]
        out[name] = (lists, time.perf_counter() - t0)
    return out
