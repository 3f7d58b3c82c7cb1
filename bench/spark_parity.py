"""Parity of the Spark engine with the single-machine engine (issue 23, item 6), same run.

ALS: on MovieLens-100K (per-user random 75/25 split, bench/_data.py) and on generated data
(`touchpoint generate`, the same per-customer 75/25 split of its events), the product's
`touchpoint train --engine spark --no-publish` fits MLlib ALS (its one configuration,
refused if worse than popularity); its saved factors are read from the registry. Beside it,
implicit's ALS — the single-machine library the pandas engine trains with — is fitted in
this file with the same factors, iterations and seed on the same confidence matrix
(`recsys.matrix.build_interactions` with the ratings reading the Spark run saved), with
regularisation and alpha mapped as spark/train.py documents: implicit's `regularization`
= `regParam` × mean pairs per customer (MLlib's ridge grows with a customer's pairs),
`alpha` unchanged (MLlib's confidence is 1 + alpha·r, implicit's alpha·r). `touchpoint
train --engine pandas` is not the comparison: it searches several models within a budget
and would not pin ALS's factors and iterations. Both are scored here, by bench/scoring.py
(not the product's evaluation): top-10 over the whole catalogue, the customer's training
items left out, NDCG@10 against the held-out quarter. Goal: Spark within 5% of implicit.

Segments: `touchpoint segment --no-publish --output` with both engines on the demo data
(`touchpoint generate` defaults but `--customers`); customers whose segment list differs,
with and without the k-means `cluster-*` names (MLlib's k-means is not scikit-learn's).

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.spark_parity [--customers 2000]
        [--spark-master local[2]] [--skip-movielens] [--out DIR] [--json]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from implicit.cpu.als import AlternatingLeastSquares

from bench._data import per_user_split, write_movielens_100k
from bench.quality import default_touchpoint, product_env
from bench.scoring import read_pairs, read_training_events, score_lists
from contracts.tables import load_tables
from recsys.matrix import build_interactions, product_weights
from recsys.registry import Registry

K = 10
GOAL = 0.05  # Spark's NDCG@10 within 5% of the single-machine ALS


def run(cmd: list[str], data: Path) -> dict[str, Any]:
    done = subprocess.run(cmd, env=product_env(data), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd)}` exited {done.returncode}: {done.stderr[-1500:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def top_k(users: np.ndarray, items: np.ndarray, seen: list[np.ndarray], k: int) -> np.ndarray:
    scores = users @ items.T
    for row, cols in enumerate(seen):
        scores[row, cols] = -np.inf
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def lists(
    user_f: np.ndarray, item_f: np.ndarray, users: list[str], items: list[str],
    relevant: dict[str, set[str]], trained: dict[str, set[str]],
) -> dict[str, list[str]]:  # fmt: skip
    """Each held-out customer the factors know: their top-K item ids, training items out."""
    row = {u: r for r, u in enumerate(users)}
    col = {i: c for c, i in enumerate(items)}
    known = [c for c in relevant if c in row]
    seen = [np.array([col[i] for i in trained.get(c, ()) if i in col], np.int64) for c in known]
    best = top_k(user_f[[row[c] for c in known]], item_f, seen, K)
    ids = np.asarray(items, dtype=object)
    return {c: list(ids[best[n]]) for n, c in enumerate(known)}


def als_parity(data: Path, heldout: Path, *, touchpoint: str, master: str) -> dict[str, Any]:
    relevant = {c: s for c, s in read_pairs(heldout).items() if s}
    events = read_training_events(data)
    trained: dict[str, set[str]] = {}
    for c, i in zip(events["customer_id"], events["item_id"], strict=True):
        trained.setdefault(str(c), set()).add(str(i))
    started = time.perf_counter()
    summary = run([touchpoint, "train", "--engine", "spark", "--no-publish", "--json",
                   "--data", str(data), "--spark-master", master], data)  # fmt: skip
    spark_seconds = time.perf_counter() - started
    registry = Registry(data / "models")
    info, bundle = registry.show(summary["version"]), registry.load(summary["version"])
    p = info["spark_params"]
    spark_model: Any = bundle.model  # an ALSRecommender: its factors
    n_users = len(bundle.customers)
    spark_lists = lists(spark_model.user_factors, spark_model.item_factors,
                        [str(x) for x in bundle.customers.ids(np.arange(n_users))],
                        [str(x) for x in bundle.items.ids(np.arange(len(bundle.items)))],
                        relevant, trained)  # fmt: skip

    tables = load_tables(data)
    inter = build_interactions(tables["events"], config=product_weights(info["ratings"]),
                               item_ids=tables["items"]["item_id"].astype(str))  # fmt: skip
    matrix = inter.matrix.tocsr().astype(np.float32)
    mean_pairs = matrix.nnz / max(matrix.shape[0], 1)
    started = time.perf_counter()
    als = AlternatingLeastSquares(
        factors=p["rank"],
        iterations=p["max_iter"],
        regularization=p["reg_param"] * mean_pairs,
        alpha=p["alpha"],
        random_state=p["seed"],
        calculate_training_loss=False,
    )
    als.fit(matrix, show_progress=False)
    single_seconds = time.perf_counter() - started
    single_lists = lists(als.user_factors, als.item_factors,
                         [str(x) for x in inter.customers.ids(np.arange(len(inter.customers)))],
                         [str(x) for x in inter.items.ids(np.arange(len(inter.items)))],
                         relevant, trained)  # fmt: skip
    spark_ndcg = score_lists(spark_lists, relevant, K)["ndcg"]
    single_ndcg = score_lists(single_lists, relevant, K)["ndcg"]
    gap = (single_ndcg - spark_ndcg) / single_ndcg if single_ndcg else float("nan")
    return {"params": p, "mapped_regularization": round(p["reg_param"] * mean_pairs, 4),
            "spark_ndcg@10": round(spark_ndcg, 4), "implicit_ndcg@10": round(single_ndcg, 4),
            "relative_gap": round(gap, 4), "within_goal": bool(gap <= GOAL),
            "spark_train_command_seconds": round(spark_seconds, 1),
            "implicit_fit_seconds": round(single_seconds, 1),
            "heldout_customers": len(relevant)}  # fmt: skip


def generated_split(root: Path, *, customers: int, touchpoint: str) -> tuple[Path, Path]:
    """`touchpoint generate`, then the per-customer 75/25 split of its events: the held-out
    pairs (events that count as interest) beside the data directory, never inside it."""
    source = root / "generated"
    subprocess.run([touchpoint, "generate", "--customers", str(customers), "--seed", "7",
                    "--out", str(source)], check=True, capture_output=True)  # fmt: skip
    data = root / "generated-train"
    data.mkdir()
    for name in ("customers", "items", "feedback"):
        shutil.copy(source / f"{name}.parquet", data / f"{name}.parquet")
    events = pd.read_parquet(source / "events.parquet")
    held = per_user_split(events["customer_id"].astype(str).to_numpy(), seed=42)
    events[~held].to_parquet(data / "events.parquet", index=False)
    liked = events[held & events["type"].astype(str).isin(["click", "add_to_cart", "purchase"])]
    heldout = root / "generated-heldout.csv"
    liked[["customer_id", "item_id"]].to_csv(heldout, index=False)
    return data, heldout


def segment_parity(root: Path, *, customers: int, touchpoint: str, master: str) -> dict[str, Any]:
    data = root / "demo"
    subprocess.run([touchpoint, "generate", "--customers", str(customers), "--out", str(data)],
                   check=True, capture_output=True)  # fmt: skip
    tables, seconds = {}, {}
    for engine in ("pandas", "spark"):
        out = root / f"segments-{engine}.parquet"
        cmd = [touchpoint, "segment", "--no-publish", "--json", "--data", str(data),
               "--output", str(out), "--engine", engine]  # fmt: skip
        started = time.perf_counter()
        run([*cmd, "--spark-master", master] if engine == "spark" else cmd, data)
        seconds[engine] = round(time.perf_counter() - started, 1)
        tables[engine] = pd.read_parquet(out).set_index("customer_id")["segments"].astype(str)
    both = pd.concat(tables, axis=1, join="outer").fillna("")

    def names(text: str, clusters: bool) -> frozenset[str]:
        return frozenset(s for s in text.split(";") if s and (clusters or "cluster-" not in s))

    differ = sum(names(a, True) != names(b, True) for a, b in both.itertuples(index=False))
    rules = sum(names(a, False) != names(b, False) for a, b in both.itertuples(index=False))
    return {"customers": len(both), "differ": int(differ), "differ_without_clusters": int(rules),
            "seconds": seconds}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=2000, help="generated data size")
    ap.add_argument("--spark-master", default="local[2]")
    ap.add_argument("--skip-movielens", action="store_true")
    ap.add_argument("--out", type=Path, default=None, help="keep the files here")
    ap.add_argument("--touchpoint", default=None, help="the CLI (default: the venv's)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    tp = args.touchpoint or default_touchpoint()
    root = args.out or Path(tempfile.mkdtemp(prefix="tp-spark-parity-"))
    root.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {}
    try:
        if not args.skip_movielens:
            ml = write_movielens_100k(root / "movielens", download=False)
            result["movielens-100k"] = als_parity(ml.data_dir, ml.heldout, touchpoint=tp,
                                                  master=args.spark_master)  # fmt: skip
        data, heldout = generated_split(root, customers=args.customers, touchpoint=tp)
        result["generated"] = als_parity(data, heldout, touchpoint=tp, master=args.spark_master)
        result["segments (demo data)"] = segment_parity(
            root, customers=args.customers, touchpoint=tp, master=args.spark_master
        )
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
        return 0
    for name in ("movielens-100k", "generated"):
        if name in result:
            r = result[name]
            print(
                f"{name}: NDCG@10 Spark ALS {r['spark_ndcg@10']:.4f} | implicit ALS "
                f"{r['implicit_ndcg@10']:.4f} | gap {r['relative_gap']:+.1%} (goal ≤ 5%: "
                f"{'met' if r['within_goal'] else 'NOT met'}) | rank {r['params']['rank']}, "
                f"{r['params']['max_iter']} iterations, regParam {r['params']['reg_param']} → "
                f"regularization {r['mapped_regularization']}, alpha {r['params']['alpha']}"
            )
    s = result["segments (demo data)"]
    print(f"segments on demo data ({s['customers']} customers): {s['differ']} differ between "
          f"engines, {s['differ_without_clusters']} without the k-means clusters; "
          f"seconds {s['seconds']}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
