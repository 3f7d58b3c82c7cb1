"""Training speed on generated data: 100k customers, 20k items, ~5M events, 2 cores.

Times the real `touchpoint train` path (load tables, build the matrix, temporal validation
split, time-boxed selection, refit on everything, save a registry version) and prints the
fit time of every candidate beside the popularity baseline. Goal: the whole train within
5 minutes on 2 cores. Data comes from `touchpoint generate` (cached in bench/.cache/).

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.train_speed [--budget-seconds S]
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import sys
import time
from pathlib import Path

from bench._data import CACHE
from contracts.tables import load_tables
from jobs.generate import generate
from jobs.modelops import run_train
from recsys.selection import describe

GOAL_SECONDS = 300.0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=20_000)
    ap.add_argument("--events-per-customer", type=float, default=50.0)
    ap.add_argument("--budget-seconds", type=float, default=120.0)
    args = ap.parse_args()
    data = CACHE / f"gen-{args.customers}-{args.items}-{args.events_per_customer:g}"
    if not (data / "events.parquet").exists():
        t0 = time.perf_counter()
        generate(
            customers=args.customers,
            items=args.items,
            seed=7,
            out=data,
            events_per_customer=args.events_per_customer,
        )
        print(f"generated {data} in {time.perf_counter() - t0:.1f}s")
    print(f"cores available: {len(os.sched_getaffinity(0))}")

    t0 = time.perf_counter()
    tables = load_tables(Path(data))
    load_s = time.perf_counter() - t0
    print(f"events {len(tables['events']):,}, customers {len(tables['customers']):,}, "
          f"items {len(tables['items']):,}")  # fmt: skip
    res = run_train(data, tables, budget_seconds=args.budget_seconds)
    total = load_s + res.seconds + res.timings["save"]

    print(f"\n{'candidate (validation fit)':<72}{'fit s':>8}{'val NDCG@10':>13}")
    for t in res.selection.trials:
        label = describe(t.model, t.params)[:70]
        if t.skipped:
            print(f"{label:<72}{'skipped':>8}  {t.skipped}")
        elif t.fit_seconds or t.model != "blend":
            print(f"{label:<72}{t.fit_seconds:>8.1f}{t.metrics['ndcg']:>13.4f}")
        else:
            print(f"{label:<72}{'(reuse)':>8}{t.metrics['ndcg']:>13.4f}")
    print(f"\nselected: {describe(res.name, res.selection.params)} -> version {res.version}")
    print(f"interactions in matrix: {res.interactions.matrix.nnz:,} "
          f"({len(res.interactions.customers):,} x {len(res.interactions.items):,})")  # fmt: skip
    phases = {"load tables": load_s, **res.timings}
    for name, secs in phases.items():
        print(f"  {name:<12}{secs:>8.1f}s")
    print(f"whole train: {total:.1f}s (goal <= {GOAL_SECONDS:.0f}s on 2 cores)")
    print("PASS" if total <= GOAL_SECONDS else "FAIL")
    return 0 if total <= GOAL_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
