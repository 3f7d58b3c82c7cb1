from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from segments.clusters import cluster_customers


def _population(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Three planted groups: big app spenders on electronics, small web buyers on books,
    lapsed store shoppers on garden; plus prospects."""
    rng = np.random.default_rng(seed)
    n = 300
    truth = np.repeat([0, 1, 2], n)
    monetary = np.concatenate([rng.normal(3000, 300, n), rng.normal(60, 10, n),
                               rng.normal(300, 40, n)])  # fmt: skip
    recency = np.concatenate([rng.normal(5, 2, n), rng.normal(20, 5, n), rng.normal(300, 30, n)])
    frequency = np.concatenate([rng.poisson(20, n) + 5, rng.poisson(2, n) + 1,
                                rng.poisson(3, n) + 1])  # fmt: skip
    app = np.concatenate([rng.uniform(0.7, 0.9, n), rng.uniform(0, 0.1, n), rng.uniform(0, 0.1, n)])
    store = np.concatenate([np.zeros(n), rng.uniform(0, 0.1, n), rng.uniform(0.7, 0.9, n)])
    frame = pd.DataFrame({
        "recency_days": np.abs(recency), "frequency": frequency, "monetary": monetary,
        "tenure_days": rng.uniform(400, 500, 3 * n),
        "channel_share.app": app, "channel_share.store": store,
        "channel_share.web": 1 - app - store,
        "top_category": np.repeat(["electronics", "books", "garden"], n),
    })  # fmt: skip
    prospects = pd.DataFrame({c: [0] * 20 for c in frame.columns})
    prospects["recency_days"] = np.nan
    prospects["top_category"] = ""
    return pd.concat([frame, prospects], ignore_index=True), truth


def test_recovers_planted_groups_and_describes_them() -> None:
    frame, truth = _population()
    result = cluster_customers(frame, seed=3)
    assert result.k == 3
    assert (result.labels[-20:] == -1).all()  # prospects are not clustered
    assert adjusted_rand_score(truth, result.labels[: len(truth)]) > 0.95
    big = result.descriptions[0]  # clusters are numbered by descending spend
    assert "high spend" in big and "app-first" in big and "electronics" in big
    lapsed = result.descriptions[int(result.labels[2 * 300])]
    assert "store-first" in lapsed and "garden" in lapsed


def test_same_seed_same_clusters() -> None:
    frame, _ = _population(seed=5)
    a = cluster_customers(frame, seed=11, k_range=(2, 4))
    b = cluster_customers(frame, seed=11, k_range=(2, 4))
    assert np.array_equal(a.labels, b.labels) and a.descriptions == b.descriptions


def test_too_few_purchasers_make_one_cluster() -> None:
    frame, _ = _population()
    tiny = frame.iloc[[0, 0, 900]].reset_index(drop=True)
    result = cluster_customers(tiny)
    assert result.k == 1 and result.labels.tolist() == [0, 0, -1]
