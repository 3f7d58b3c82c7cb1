"""MovieLens-100K served quality, through the product's own commands (bench/quality.py).

Protocol of Microsoft Recommenders' MovieLens-100K table: per-user random 75/25 split of
all 100k ratings (`--seed`, default 42), top-10, full ranking over the catalogue, binary
relevance. The 75% is written as Touchpoint contract files (`events.csv` of `rate` events
with the star rating as value, `customers.csv`, `items.csv` with titles and genres as
tags); the held-out quarter goes to `heldout.csv` beside the data directory, which the
product never sees. Then `touchpoint train --no-publish` and `touchpoint recommend` run as
subprocesses with the product's defaults (its own validation split, carved from the 75%,
and its embedded Redis), and their output CSV is scored by bench/quality.py's metric code,
beside implicit's ALS, BPR, BM25 and cosine item-KNN (library defaults) and popularity
fitted on the same training events in the same run. The published figures below come from
Microsoft's README, not from this run.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.movielens [--seed 42] [--out DIR]
     [--budget-seconds S] [--split temporal|random] [--json]
(without --out the files go to a temporary directory that is removed afterwards).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

from bench import quality
from bench._data import write_movielens_100k

# Microsoft Recommenders README, MovieLens-100K, same protocol: NDCG@10
PUBLISHED = {"BiVAE": 0.475, "BPR (Cornac)": 0.442, "SAR": 0.382}
TARGET = quality.GOAL_NDCG  # 0.48: above BiVAE's 0.475, the best in that table


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=42, help="split seed (the protocol uses 42)")
    ap.add_argument("--out", type=Path, default=None, help="keep the files here")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--budget-seconds", type=float, default=None, help="default: product's")
    ap.add_argument("--split", choices=("random", "recent", "temporal"), default=None)
    ap.add_argument("--touchpoint", default=None, help="the CLI to run (default: the venv's)")
    ap.add_argument("--json", action="store_true", help="print one JSON dict instead")
    args = ap.parse_args(argv)

    root = args.out or Path(tempfile.mkdtemp(prefix="tp-movielens-"))
    try:
        files = write_movielens_100k(root, seed=args.seed)
        result = quality.measure(
            files.data_dir,
            files.heldout,
            k=args.k,
            budget_seconds=args.budget_seconds,
            split=args.split,
            touchpoint=args.touchpoint,
            goal=TARGET,
            work=root / "run" if args.out else None,
        )
    finally:
        if args.out is None:
            shutil.rmtree(root, ignore_errors=True)
    result |= {"dataset": "MovieLens-100K", "seed": args.seed, "published_ndcg10": PUBLISHED}
    if args.json:
        print(json.dumps(result, default=str))
        return 0
    print(
        f"MovieLens-100K, per-user random 75/25 split (seed {args.seed}): "
        f"{files.n_train:,} training ratings, {files.n_heldout:,} held out"
    )
    quality.print_report(result)
    print(
        "published NDCG@10, same protocol (Microsoft Recommenders README, not this run): "
        + ", ".join(f"{name} {v:.3f}" for name, v in PUBLISHED.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
