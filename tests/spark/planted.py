"""Small data directories with a known truth, for the Spark training tests.

`planted`: customers fall in groups, each group buys from its own shelf of items, and the
shelves are equally popular, so knowing the customer is what ranks well (ALS can learn it,
popularity cannot); every item has one category, so the served list's category rules
cannot reorder the shelves. `popular_only`: every customer draws from one steep popularity curve,
so popularity is the best ranking there is and a factor model only adds noise.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

GROUPS, SHELF, PER_CUSTOMER = 4, 8, 5


def write_items(data: Path, n_items: int) -> list[str]:
    data.mkdir(parents=True, exist_ok=True)
    ids = [f"i{j:02d}" for j in range(n_items)]
    pd.DataFrame(
        {"item_id": ids, "kind": "product", "title": ids,
         "category": "one", "price": 10.0}
    ).to_csv(data / "items.csv", index=False)  # fmt: skip
    return ids


def write_events(data: Path, bought: list[tuple[str, str]], seed: int) -> None:
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2026-01-01", tz="UTC")
    rows = [
        {"event_id": f"e{n}", "customer_id": c, "item_id": i, "type": "purchase",
         "timestamp": (start + pd.Timedelta(minutes=int(m))).isoformat()}
        for n, ((c, i), m) in enumerate(zip(bought, rng.integers(0, 10**5, len(bought)),
                                            strict=True))
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(data / "events.csv", index=False)
    customers = sorted({c for c, _ in bought})
    pd.DataFrame({"customer_id": customers}).to_csv(data / "customers.csv", index=False)


def planted(data: Path, *, per_group: int = 30, seed: int = 11) -> dict[str, int]:
    """Customer id -> their group; customer `c{g}_{n}` buys 5 of shelf g's 8 items."""
    items = write_items(data, GROUPS * SHELF)
    rng = np.random.default_rng(seed)
    group_of, bought = {}, []
    for g in range(GROUPS):
        for n in range(per_group):
            customer = f"c{g}_{n:02d}"
            group_of[customer] = g
            picks = rng.choice(SHELF, size=PER_CUSTOMER, replace=False)
            bought += [(customer, items[g * SHELF + int(p)]) for p in picks]
    write_events(data, bought, seed)
    return group_of


def popular_only(data: Path, *, customers: int = 120, seed: int = 12) -> None:
    """Every customer buys 5 items drawn from one Zipf-like curve over 32 items."""
    items = write_items(data, GROUPS * SHELF)
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, len(items) + 1) ** 1.5
    p /= p.sum()
    bought = []
    for n in range(customers):
        picks = rng.choice(len(items), size=PER_CUSTOMER, replace=False, p=p)
        bought += [(f"c{n:03d}", items[int(j)]) for j in picks]
    write_events(data, bought, seed)
