"""Builders for canonical in-memory tables (the dtypes `contracts.tables.load_table` returns)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from contracts.schema import CHANNELS, EVENT_TYPES, LOYALTY_TIERS, SURVEYS

S = pd.StringDtype("pyarrow")


def ts(values: Sequence[str | None]) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).astype("datetime64[ns, UTC]")


def customers(ids: Sequence[str], *, created: Sequence[str | None] | None = None,
              tiers: Sequence[str] | None = None, points: Sequence[int] | None = None
              ) -> pd.DataFrame:  # fmt: skip
    n = len(ids)
    return pd.DataFrame(
        {
            "customer_id": pd.array(list(ids), dtype=S),
            "created_at": ts(created if created is not None else [None] * n),
            "loyalty_tier": pd.Categorical(list(tiers or ["none"] * n), categories=LOYALTY_TIERS),
            "points_balance": list(points or [0] * n),
        }
    )


def events(rows: Sequence[dict[str, object]]) -> pd.DataFrame:
    """rows: dicts with customer_id, timestamp and optional type (purchase), item_id, channel,
    order_id, value."""
    return pd.DataFrame(
        {
            "event_id": pd.array([f"e{i}" for i in range(len(rows))], dtype=S),
            "customer_id": pd.array([str(r["customer_id"]) for r in rows], dtype=S),
            "item_id": pd.array([str(r.get("item_id", "i1")) for r in rows], dtype=S),
            "type": pd.Categorical(
                [r.get("type", "purchase") for r in rows], categories=EVENT_TYPES
            ),
            "channel": pd.Categorical([r.get("channel", "web") for r in rows], categories=CHANNELS),
            "timestamp": ts([str(r["timestamp"]) for r in rows]),
            "order_id": pd.array([str(r.get("order_id", "")) for r in rows], dtype=S),
            "quantity": [1] * len(rows),
            "value": [float(r.get("value", 0.0)) for r in rows],  # type: ignore[arg-type]
            "recommendation_id": pd.array([""] * len(rows), dtype=S),
        }
    )


def items(categories: dict[str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": pd.array(list(categories), dtype=S),
            "category": pd.Series(list(categories.values())).astype("category"),
        }
    )


def feedback(rows: Sequence[tuple[str, str, int, str]]) -> pd.DataFrame:
    """rows: (customer_id, survey, score, timestamp)."""
    return pd.DataFrame(
        {
            "response_id": pd.array([f"r{i}" for i in range(len(rows))], dtype=S),
            "customer_id": pd.array([r[0] for r in rows], dtype=S),
            "survey": pd.Categorical([r[1] for r in rows], categories=SURVEYS),
            "score": [r[2] for r in rows],
            "timestamp": ts([r[3] for r in rows]),
        }
    )
