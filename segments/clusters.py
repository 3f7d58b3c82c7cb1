"""Behavioural clusters: k-means on standardised purchase and channel features, k chosen by
silhouette on a sample, each cluster described in words ("high spend, app-first, books").

Only purchasers are clustered (prospects have no recency or spend to compare): prospects
get cluster -1. Features: log1p of recency, frequency, monetary and tenure, plus channel
shares. Fitting uses a fixed seed and a bounded sample, then every customer is assigned
to its nearest centre, so 1M customers cost about as much as the sample. Clusters are
numbered by descending mean spend (0 = highest) so numbers mean the same across runs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

LOG_FEATURES = ("recency_days", "frequency", "monetary", "tenure_days")
# (feature, phrase when clearly above average, phrase when clearly below)
PHRASES = {
    "monetary": ("high spend", "low spend"),
    "frequency": ("frequent buyers", "one-off buyers"),
    "recency_days": ("not seen for a while", "recent buyers"),
    "tenure_days": ("long-standing", "recently joined"),
}
STANDOUT = 0.5  # in standard deviations of the purchasers


@dataclass(frozen=True)
class ClusterResult:
    """`labels` per customer (-1 = not clustered), one description per cluster, chosen k."""

    labels: np.ndarray
    descriptions: dict[int, str]
    k: int
    silhouette: float


def cluster_customers(
    features: pd.DataFrame,
    *,
    k_range: tuple[int, int] = (2, 8),
    sample_size: int = 3_000,
    fit_size: int = 20_000,
    seed: int = 7,
) -> ClusterResult:
    """Cluster purchasers; k in `k_range` (inclusive) maximising silhouette on a sample."""
    buyers = np.flatnonzero(features["frequency"].to_numpy() > 0)
    labels = np.full(len(features), -1, dtype=np.int64)
    x, names = _matrix(features.iloc[buyers])
    distinct = len(np.unique(x, axis=0)) if len(x) <= sample_size else len(x)
    if distinct < 3:
        labels[buyers] = 0
        return ClusterResult(labels, {0: "all purchasers"} if len(buyers) else {}, 1, 0.0)
    rng = np.random.default_rng(seed)
    fit_rows = rng.choice(len(x), min(fit_size, len(x)), replace=False)
    sil_rows = fit_rows[: min(sample_size, len(fit_rows))]
    best: tuple[float, int, KMeans] | None = None
    for k in range(k_range[0], min(k_range[1], distinct - 1) + 1):
        model = KMeans(n_clusters=k, n_init=2, random_state=seed).fit(x[fit_rows])
        sample_labels = model.predict(x[sil_rows])
        if len(np.unique(sample_labels)) < 2:
            continue
        score = float(silhouette_score(x[sil_rows], sample_labels, random_state=seed))
        if best is None or score > best[0] + 1e-9:
            best = (score, k, model)
    if best is None:
        labels[buyers] = 0
        return ClusterResult(labels, {0: "all purchasers"}, 1, 0.0)
    score, k, model = best
    raw = model.predict(x)
    spend = features["monetary"].to_numpy(np.float64)[buyers]
    means = np.array([spend[raw == c].mean() if (raw == c).any() else -np.inf for c in range(k)])
    order = np.argsort(-means, kind="stable")
    relabel = np.empty(k, dtype=np.int64)
    relabel[order] = np.arange(k)
    labels[buyers] = relabel[raw]
    descriptions = describe_clusters(features.iloc[buyers], labels[buyers], names)
    return ClusterResult(labels, descriptions, k, score)


def _matrix(frame: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Standardised feature matrix (zero-variance columns dropped) and its column names."""
    shares = [c for c in frame.columns if c.startswith("channel_share.")]
    names = [c for c in LOG_FEATURES if c in frame.columns] + shares
    cols = [
        np.log1p(np.clip(frame[c].to_numpy(np.float64), 0, None))
        if c in LOG_FEATURES
        else frame[c].to_numpy(np.float64)
        for c in names
    ]
    x = np.column_stack(cols) if cols else np.zeros((len(frame), 0))
    x = np.nan_to_num(x)
    std = x.std(axis=0)
    keep = std > 1e-12
    return (x[:, keep] - x[:, keep].mean(axis=0)) / std[keep], [
        n for n, k in zip(names, keep, strict=True) if k
    ]


@dataclass(frozen=True)
class ClusterStats:
    """What a description is made from, whichever engine computed it: per feature the
    purchasers' mean and (population) std and each cluster's mean; per cluster the count of
    each non-empty top category, and the same counts over all purchasers."""

    overall: dict[str, tuple[float, float]]  # feature -> (mean, std)
    cluster_means: dict[int, dict[str, float]]  # cluster -> feature -> mean
    category_counts: dict[int, dict[str, int]]  # cluster -> category -> purchasers
    all_category_counts: dict[str, int]


def describe_clusters(frame: pd.DataFrame, labels: np.ndarray, names: list[str]) -> dict[int, str]:
    """Up to three phrases per cluster for the features that set it furthest apart, plus its
    dominant top category when that category is clearly over-represented."""
    values = {c: frame[c].to_numpy(np.float64) for c in names}
    cats = frame["top_category"].astype(str).to_numpy() if "top_category" in frame else None
    clusters = [int(c) for c in np.unique(labels)]

    def counts(mask: np.ndarray) -> dict[str, int]:
        if cats is None:
            return {}
        found = pd.Series(cats[mask])
        return {str(k): int(v) for k, v in found[found != ""].value_counts().items()}

    return describe_from_stats(
        ClusterStats(
            overall={n: (float(v.mean()), float(v.std())) for n, v in values.items()},
            cluster_means={
                c: {n: float(v[labels == c].mean()) for n, v in values.items()} for c in clusters
            },
            category_counts={c: counts(labels == c) for c in clusters},
            all_category_counts=counts(np.ones(len(labels), dtype=bool)),
        )
    )


def describe_from_stats(stats: ClusterStats) -> dict[int, str]:
    """The words for each cluster (the one definition both engines use)."""
    out: dict[int, str] = {}
    for cluster, means in sorted(stats.cluster_means.items()):
        scored: list[tuple[float, str]] = []
        for name, (mean, std) in stats.overall.items():
            if std <= 1e-12:
                continue
            z = (means[name] - mean) / std
            if name.startswith("channel_share."):
                if z > STANDOUT and means[name] >= 0.3:
                    scored.append((z, f"{name.split('.', 1)[1]}-first"))
            elif name in PHRASES and abs(z) > STANDOUT:
                scored.append((abs(z), PHRASES[name][0 if z > 0 else 1]))
        phrases = [p for _, p in sorted(scored, key=lambda t: (-t[0], t[1]))[:3]]
        category = _dominant_category(stats.category_counts.get(cluster, {}),
                                      stats.all_category_counts)  # fmt: skip
        if category:
            phrases.append(category)
        out[cluster] = ", ".join(phrases) if phrases else "typical purchasers"
    return out


def _dominant_category(inside: dict[str, int], everyone: dict[str, int]) -> str | None:
    if not inside:
        return None
    top = min(inside, key=lambda name: (-inside[name], name))  # most members, then by name
    share_in = inside[top] / sum(inside.values())
    total = sum(everyone.values())
    share_all = everyone.get(top, 0) / total if total else 0.0
    return top if share_in >= 0.25 and share_in >= 1.5 * share_all else None
