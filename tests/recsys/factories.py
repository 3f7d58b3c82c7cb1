"""Builders of canonical tables and a planted-structure interaction set for recsys tests."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

STRING = pd.StringDtype("pyarrow")


def make_events(rows: list[tuple[str, str, str]] | list[tuple], **extra: list) -> pd.DataFrame:
    """Events table from (customer_id, item_id, type[, timestamp[, value[, channel]]]) tuples."""
    cols = ["customer_id", "item_id", "type", "timestamp", "value", "channel"]
    width = max(len(r) for r in rows)
    df = pd.DataFrame([list(r) for r in rows], columns=cols[:width])
    if "timestamp" not in df:
        df["timestamp"] = "2024-01-01T00:00:00Z"
    if "value" not in df:
        df["value"] = 0.0
    if "channel" not in df:
        df["channel"] = "web"
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    for col in ("event_id", "customer_id", "item_id"):
        df[col] = df[col].astype(STRING)
    df["type"] = df["type"].astype("category")
    df["channel"] = df["channel"].astype("category")
    df["value"] = df["value"].astype("float64")
    for k, v in extra.items():
        df[k] = v
    return df


def planted(
    n_users: int = 60, n_items: int = 40, per_user: int = 8, seed: int = 0
) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """Two customer groups that each interact only with their own half of the catalogue.

    Returns (matrix, user_group, item_group); group g users pick `per_user` random items of
    item group g, so a model that learned anything ranks in-group items first.
    """
    rng = np.random.default_rng(seed)
    user_group = np.arange(n_users) % 2
    item_group = (np.arange(n_items) >= n_items // 2).astype(int)
    rows, cols = [], []
    for u in range(n_users):
        pool = np.flatnonzero(item_group == user_group[u])
        # a popularity skew inside each group, so popularity models have something to rank
        p = np.linspace(2.0, 1.0, pool.size)
        picks = rng.choice(pool, size=per_user, replace=False, p=p / p.sum())
        rows += [u] * per_user
        cols += picks.tolist()
    data = np.ones(len(rows), dtype=np.float32)
    m = sp.csr_matrix((data, (rows, cols)), shape=(n_users, n_items), dtype=np.float32)
    return m, user_group, item_group


def planted_features(
    user_group: np.ndarray, item_group: np.ndarray
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Customer and item tables whose attributes reveal the planted group."""
    customers = pd.DataFrame(
        {
            "customer_id": pd.array([f"c{u}" for u in range(user_group.size)], dtype=STRING),
            "loyalty_tier": pd.Categorical(np.where(user_group == 0, "gold", "bronze")),
            "birth_year": pd.array(1970 + 3 * (np.arange(user_group.size) % 10), dtype="Int64"),
        }
    )
    items = pd.DataFrame(
        {
            "item_id": pd.array([f"i{i}" for i in range(item_group.size)], dtype=STRING),
            "category": pd.Categorical(np.where(item_group == 0, "shoes", "books")),
            "tags": pd.array(np.where(item_group == 0, "sport;outdoor", "paper"), dtype=STRING),
            "price": np.linspace(5.0, 100.0, item_group.size),
        }
    )
    return customers, items
