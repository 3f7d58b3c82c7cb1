"""The benchmark's own scoring: NDCG, recall and precision at k over held-out pairs, and the
readers of the files it scores. Nothing here comes from the product (`recsys.evaluation` is
the product's), so a defect there cannot hide in the figures."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import pandas as pd


def score_lists(
    recs: Mapping[str, Sequence[str]], relevant: Mapping[str, Iterable[str]], k: int
) -> dict[str, float]:
    """Mean NDCG@k, Recall@k and Precision@k over the customers in `relevant` that have at
    least one relevant item; `recs[c]` is c's ranked list (only its first k count; a
    customer missing from `recs` scores 0). Binary relevance; duplicates in a list count
    once (the first time)."""
    totals = {"ndcg": 0.0, "recall": 0.0, "precision": 0.0}
    n = 0
    for customer, items in relevant.items():
        truth = set(items)
        if not truth:
            continue
        n += 1
        seen: set[str] = set()
        dcg = 0.0
        hits = 0
        for rank, item in enumerate(list(recs.get(customer, ()))[:k], start=1):
            if item in truth and item not in seen:
                dcg += 1.0 / math.log2(rank + 1)
                hits += 1
            seen.add(item)
        ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(truth), k) + 1))
        totals["ndcg"] += dcg / ideal
        totals["recall"] += hits / len(truth)
        totals["precision"] += hits / k
    return {m: (v / n if n else float("nan")) for m, v in totals.items()}


# --- inputs -------------------------------------------------------------------------------


def read_pairs(path: Path) -> dict[str, set[str]]:
    """customer_id -> item ids, from a CSV with columns customer_id and item_id."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["customer_id", "item_id"])
    out: dict[str, set[str]] = {}
    for c, i in zip(df["customer_id"].str.strip(), df["item_id"].str.strip(), strict=True):
        out.setdefault(c, set()).add(i)
    return out


def read_training_events(data_dir: Path) -> pd.DataFrame:
    """customer_id, item_id of every event in the data directory's events table
    (`events.csv` or `events.parquet`, plus ingested `events/*.parquet` partitions)."""
    files = [p for p in (data_dir / "events.csv", data_dir / "events.parquet") if p.is_file()]
    part = data_dir / "events"
    if part.is_dir():
        files += sorted(part.glob("*.parquet"))
    if not files:
        raise FileNotFoundError(f"no events table in {data_dir} (events.csv or events.parquet)")
    frames = []
    for f in files:
        if f.suffix == ".csv":
            cols = ["customer_id", "item_id"]
            df = pd.read_csv(f, dtype=str, keep_default_na=False, usecols=cols)
        else:
            df = pd.read_parquet(f, columns=["customer_id", "item_id"]).astype(str)
        frames.append(df)
    events = pd.concat(frames, ignore_index=True)
    return pd.DataFrame(
        {"customer_id": events["customer_id"].str.strip(), "item_id": events["item_id"].str.strip()}
    )


def read_recommendations(path: Path) -> dict[str, list[str]]:
    """customer_id -> item ids in rank order, from the product's output CSV."""
    df = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = {"customer_id", "rank", "item_id"} - set(df.columns)
    if missing:
        raise ValueError(f"{path}: columns {sorted(missing)} missing from the product's output")
    df = df.assign(rank=df["rank"].astype(int)).sort_values(["customer_id", "rank"], kind="stable")
    return {c: g["item_id"].str.strip().tolist() for c, g in df.groupby("customer_id", sort=False)}


# --- the product, as subprocesses --------------------------------------------------------
