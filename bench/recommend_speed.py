"""`touchpoint recommend` at campaign scale: wall seconds, customers/s and peak memory of the
product's own command, run as a subprocess for all customers of a data directory (or the
first N), beside a baseline measured in the same run: the model's raw top-k alone
(`Recommender.recommend` for the same customers the model knows: their scores and top k,
in process, no history, rules, events or output). With `--before SRC` the same command also
runs from another source tree (e.g. `git archive <commit> | tar -x -C SRC`: the code before
a change), and the two outputs are compared list by list.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/recommend_speed.py --data DIR \\
        [--customers N] [--k 10] [--before SRC]

DIR needs a trained model (`touchpoint train` or `run`); rules come from
`TOUCHPOINT_RULES_DIR` as for the product. Goal (issue: batch scoring at campaign scale):
1M customers, k = 10, within 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np
import pandas as pd
import scipy.sparse as sp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
TOUCHPOINT = [sys.executable, "-c", "from jobs.cli import main; main()"]


def run_command(data: Path, ids: Path, k: int, out: Path, src: Path) -> dict[str, float]:
    """`touchpoint recommend` from source tree `src`: wall s, peak RSS (MiB), CPU s."""
    timing = out.with_suffix(".time")
    cmd = [*TOUCHPOINT, "recommend", "--data", str(data), "--customers", str(ids),
           "--k", str(k), "--output", str(out), "--json"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src)}
    timer = shutil.which("time") or "/usr/bin/time"
    wrapped = [timer, "-f", "%M %U %S", "-o", str(timing), *cmd] if Path(timer).exists() else cmd
    started = time.perf_counter()
    done = subprocess.run(wrapped, env=env, capture_output=True, text=True, cwd=src)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"touchpoint recommend failed ({src}):\n{done.stderr[-3000:]}")
    if timing.exists():
        rss, user, system = timing.read_text().split()[-3:]
        return {"wall": wall, "rss": int(rss) / 1024, "cpu": float(user) + float(system)}
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"wall": wall, "rss": peak, "cpu": float("nan")}


def raw_top_k(data: Path, ids: list[str], k: int) -> dict[str, float]:
    """The model's top k alone for the customers it knows (scores and ranking, nothing
    else), timed in process after loading."""
    from jobs.modelops import registry_for

    bundle = registry_for(data).load(None)
    rows = bundle.customers.lookup(ids)
    rows = rows[rows >= 0]
    empty = sp.csr_matrix((len(rows), bundle.model.n_items), dtype=np.float32)
    started, cpu = time.perf_counter(), time.process_time()
    bundle.model.recommend(empty, k, user_indices=rows, exclude_seen=False)
    return {"wall": time.perf_counter() - started, "cpu": time.process_time() - cpu,
            "known": len(rows)}  # fmt: skip


def differing(a: Path, b: Path) -> int:
    """Customers whose lists (items by rank) differ between two outputs."""
    cols = ["customer_id", "rank", "item_id"]
    left = pd.read_csv(a, usecols=cols, dtype=str)
    right = pd.read_csv(b, usecols=cols, dtype=str)
    merged = left.merge(right, on=["customer_id", "rank"], how="outer", indicator=True)
    bad = (merged["_merge"] != "both") | (merged["item_id_x"] != merged["item_id_y"])
    return int(merged.loc[bad, "customer_id"].nunique())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--customers", type=int, default=None, help="the first N (default all)")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--before", type=Path, default=None, help="another source tree")
    args = parser.parse_args()
    data = args.data.resolve()
    ids = pd.read_parquet(data / "customers.parquet", columns=["customer_id"])["customer_id"]
    ids = ids.astype(str).tolist()[: args.customers]
    with tempfile.TemporaryDirectory() as tmp:
        listed = Path(tmp) / "customers.txt"
        listed.write_text("\n".join(ids) + "\n")
        runs = {"touchpoint recommend": run_command(data, listed, args.k, Path(tmp) / "now.csv",
                                                    ROOT)}  # fmt: skip
        if args.before is not None:
            before = run_command(data, listed, args.k, Path(tmp) / "before.csv", args.before)
            runs[f"the same, from {args.before}"] = before
            changed = differing(Path(tmp) / "now.csv", Path(tmp) / "before.csv")
        raw = raw_top_k(data, ids, args.k)
    n = len(ids)
    print(f"{n:,} customers, k={args.k}, data {data}, load {os.getloadavg()[0]:.1f}")
    for name, r in runs.items():
        print(f"  {name:<40} {r['wall']:7.1f} s wall  {n / r['wall']:9,.0f} customers/s  "
              f"peak RSS {r['rss']:,.0f} MiB  CPU {r['cpu']:.1f} s")  # fmt: skip
    print(f"  {'baseline: the model raw top-k alone':<40} {raw['wall']:7.1f} s wall  "
          f"{raw['known'] / raw['wall']:9,.0f} customers/s  ({raw['known']:,} the model "
          f"knows; CPU {raw['cpu']:.1f} s)")  # fmt: skip
    if args.before is not None:
        print(f"  lists that differ between the two: {changed:,} of {n:,} customers")
    print(json.dumps({"customers": n, "k": args.k, "runs": runs, "raw_top_k": raw}))


if __name__ == "__main__":
    main()
