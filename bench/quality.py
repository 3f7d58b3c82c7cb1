"""Served quality on real data: the product's own commands, scored by code it does not share.

    bench/quality.py --data DIR --heldout FILE [--k 10] [--budget-seconds S]
                     [--touchpoint PATH] [--json]

DIR is any data directory in Touchpoint's contract (events, items, customers ...) and FILE
a CSV of held-out `customer_id,item_id` pairs the product never sees. The script

1. runs the product as a user would, as subprocesses with the product's embedded Redis in
   DIR: `touchpoint train --data DIR --no-publish [--budget-seconds S] --json`, then
   `touchpoint recommend --data DIR --customers C --k K --output recs.csv` for every
   customer with a held-out item (C, recs.csv and the run's logs go to a temporary folder;
   the model registry goes where the product puts it, DIR/models);
2. scores the output CSV (customer_id, rank, item_id, score) with NDCG@K, Recall@K and
   Precision@K written here (binary relevance: any held-out pair; ideal DCG over
   min(|relevant|, K); averaged over customers with a held-out item; a customer absent
   from the output counts 0). Nothing from the product is imported;
3. fits baselines in the same run on the same training events (every event of DIR's events
   table as a binary interaction, customer x item CSR): `implicit` ALS, BPR, BM25 and
   cosine item-KNN with the library's default parameters (random_state fixed at 0), and
   popularity (training customers per item); each excludes the customer's training items.
   A held-out customer absent from training gets the popularity list from every baseline;
4. prints one table (name, NDCG@K, Recall@K, Precision@K, seconds), the share of the
   product's recommendations the customer already had in training, and whether the
   product reaches the best baseline and the goal (`--goal`, default the MovieLens-100K
   goal NDCG@10 >= 0.48).

Exit code 0 whatever the figures (a benchmark, not a test), non-zero only on a crash of
this script. A product command that fails (a refused model, exit 1) is reported with its
message and the product scores 0: it served nothing. `--split` passes the product's own
validation-split option to `train` (default: not passed, the product's default).
Run with OPENBLAS_NUM_THREADS=1 (set here if unset).
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.baselines import run_baselines
from bench.scoring import read_pairs, read_recommendations, read_training_events, score_lists

GOAL_NDCG = 0.48  # MovieLens-100K @10: above BiVAE's 0.475, the best in Microsoft's table


class ProductFailed(RuntimeError):
    """A `touchpoint` command exited non-zero (after `seconds` of the run)."""

    def __init__(self, message: str, seconds: float = 0.0) -> None:
        super().__init__(message)
        self.seconds = seconds


# --- metrics: written here, independent of the product ---------------------------------


def default_touchpoint() -> str:
    here = Path(sys.executable).parent / "touchpoint"
    if here.exists():
        return str(here)
    found = shutil.which("touchpoint")
    if found is None:
        raise FileNotFoundError("no `touchpoint` next to this Python nor on PATH (--touchpoint)")
    return found


def product_env(data_dir: Path) -> dict[str, str]:
    """The environment a user would run with: this data directory, the embedded Redis."""
    env = dict(os.environ)
    env.pop("TOUCHPOINT_REDIS_URL", None)
    env["TOUCHPOINT_DATA_DIR"] = str(data_dir)
    env["OPENBLAS_NUM_THREADS"] = "1"
    return env


def _run(cmd: list[str], env: dict[str, str], log: Path, timeout: float, t0: float) -> str:
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    log.write_text(
        f"$ {' '.join(cmd)}\n--- stdout\n{done.stdout}\n--- stderr\n{done.stderr}", "utf-8"
    )
    if done.returncode != 0:
        tail = (done.stderr.strip() or done.stdout.strip())[-2000:]
        raise ProductFailed(
            f"`{' '.join(cmd)}` exited {done.returncode}:\n{tail}", time.perf_counter() - t0
        )
    return done.stdout


def run_product(
    data_dir: Path,
    customers: Sequence[str],
    work: Path,
    *,
    k: int,
    budget_seconds: float | None,
    split: str | None = None,
    touchpoint: str,
) -> dict[str, Any]:
    """Train and batch-recommend with the product's CLI; returns the output path, timings
    and what `train --json` said."""
    env = product_env(data_dir)
    timeout = 4 * (budget_seconds or 120.0) + 900
    customers_file = work / "customers.txt"
    customers_file.write_text("".join(f"{c}\n" for c in customers), encoding="utf-8")
    output = work / "recs.csv"
    train = [touchpoint, "train", "--data", str(data_dir), "--no-publish", "--json"]
    if budget_seconds is not None:
        train += ["--budget-seconds", f"{budget_seconds:g}"]
    if split is not None:
        train += ["--split", split]
    t0 = time.perf_counter()
    out = _run(train, env, work / "train.log", timeout, t0)
    t1 = time.perf_counter()
    recommend = [touchpoint, "recommend", "--data", str(data_dir), "--customers",
                 str(customers_file), "--k", str(k), "--output", str(output)]  # fmt: skip
    _run(recommend, env, work / "recommend.log", timeout, t0)
    t2 = time.perf_counter()
    summary: dict[str, Any] = {}
    for line in reversed(out.strip().splitlines()):
        try:
            summary = json.loads(line)
            break
        except json.JSONDecodeError:
            continue
    return {
        "output": output,
        "train_seconds": t1 - t0,
        "recommend_seconds": t2 - t1,
        "train_summary": summary,
    }


# --- baselines ----------------------------------------------------------------------------


# --- the whole measurement ------------------------------------------------------------------


def measure(
    data_dir: Path,
    heldout: Path,
    *,
    k: int = 10,
    budget_seconds: float | None = None,
    split: str | None = None,
    touchpoint: str | None = None,
    goal: float = GOAL_NDCG,
    work: Path | None = None,
) -> dict[str, Any]:
    """Run the product and the baselines; return every figure as a JSON-ready dict."""
    data_dir = Path(data_dir).resolve()
    relevant = {c: items for c, items in read_pairs(Path(heldout)).items() if items}
    customers = sorted(relevant)
    events = read_training_events(data_dir)
    trained: dict[str, set[str]] = {}
    for c, i in zip(events["customer_id"], events["item_id"], strict=True):
        trained.setdefault(c, set()).add(i)

    owned = work is None
    work = Path(tempfile.mkdtemp(prefix="tp-quality-")) if work is None else Path(work)
    work.mkdir(parents=True, exist_ok=True)
    error = None
    try:
        product = run_product(
            data_dir,
            customers,
            work,
            k=k,
            budget_seconds=budget_seconds,
            split=split,
            touchpoint=touchpoint or default_touchpoint(),
        )
        recs = read_recommendations(product["output"])
    except ProductFailed as exc:  # e.g. a refused model: the product serves nothing here
        error, recs = str(exc), {}
        product = {"train_seconds": exc.seconds, "recommend_seconds": 0.0, "train_summary": {}}
    finally:
        if owned:
            shutil.rmtree(work, ignore_errors=True)

    served = [(c, i) for c in customers for i in recs.get(c, [])[:k]]
    already = sum(1 for c, i in served if i in trained.get(c, ()))
    label = product["train_summary"].get("model", "failed" if error else "?")
    rows: list[dict[str, Any]] = [
        {
            "name": "touchpoint" + (" (failed)" if error else ""),
            **score_lists(recs, relevant, k),
            "seconds": product["train_seconds"] + product["recommend_seconds"],
        }
    ]
    for name, (lists, secs) in run_baselines(events, customers, k).items():
        rows.append({"name": name, **score_lists(lists, relevant, k), "seconds": secs})

    best = max(rows[1:], key=lambda r: r["ndcg"])
    ndcg = rows[0]["ndcg"]
    return {
        "data": str(data_dir),
        "heldout": str(heldout),
        "k": k,
        "budget_seconds": budget_seconds,
        "split": split,
        "customers_scored": len(customers),
        "training_events": len(events),
        "heldout_pairs": sum(len(v) for v in relevant.values()),
        "product": {
            "error": error,
            "model": label,
            "version": product["train_summary"].get("version"),
            "train_seconds": round(product["train_seconds"], 1),
            "recommend_seconds": round(product["recommend_seconds"], 1),
            "customers_in_output": sum(1 for c in customers if recs.get(c)),
            "recommendations": len(served),
            "already_in_training": already,
            "already_in_training_share": already / len(served) if served else float("nan"),
            "train_summary": product["train_summary"],
        },
        "rows": rows,
        "best_baseline": best["name"],
        "best_baseline_ndcg": best["ndcg"],
        "meets_best_baseline": bool(ndcg >= best["ndcg"]),
        "goal_ndcg": goal,
        "meets_goal": bool(ndcg >= goal),
    }


def print_report(result: dict[str, Any]) -> None:
    k = result["k"]
    p = result["product"]
    print(
        f"data {result['data']}: {result['training_events']:,} training events; "
        f"{result['heldout_pairs']:,} held-out pairs of {result['customers_scored']:,} customers"
    )
    budget = result["budget_seconds"]
    how = "product default budget" if budget is None else f"budget {budget:g}s"
    if result["split"]:
        how += f", --split {result['split']}"
    if p["error"]:
        print(f"touchpoint FAILED ({how}) after {p['train_seconds']:.1f}s: {p['error']}\n")
    else:
        print(
            f"touchpoint train ({how}): {p['model']} (version {p['version']}), "
            f"{p['train_seconds']:.1f}s; recommend {p['recommend_seconds']:.1f}s\n"
        )
    width = max(len(r["name"]) for r in result["rows"]) + 2
    print(f"{'name':<{width}}{f'NDCG@{k}':>10}{f'Recall@{k}':>11}{f'Prec@{k}':>10}{'seconds':>9}")
    for r in result["rows"]:
        print(
            f"{r['name']:<{width}}{r['ndcg']:>10.4f}{r['recall']:>11.4f}"
            f"{r['precision']:>10.4f}{r['seconds']:>9.1f}"
        )
    share = "n/a" if not p["recommendations"] else f"{100 * p['already_in_training_share']:.1f}%"
    print(
        f"\nproduct recommendations already in the customer's training events: "
        f"{p['already_in_training']:,} of {p['recommendations']:,} ({share}); "
        f"customers with a list: {p['customers_in_output']:,} of {result['customers_scored']:,}"
    )
    ndcg = result["rows"][0]["ndcg"]
    print(
        f"at least the best baseline ({result['best_baseline']}, "
        f"{result['best_baseline_ndcg']:.4f}): {'YES' if result['meets_best_baseline'] else 'NO'}"
        f" (product {ndcg:.4f})"
    )
    print(f"goal NDCG@{k} >= {result['goal_ndcg']:g}: {'YES' if result['meets_goal'] else 'NO'}")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="contract data directory")
    ap.add_argument("--heldout", type=Path, required=True, help="CSV customer_id,item_id")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument(
        "--budget-seconds", type=float, default=None, help="train budget (default: product's)"
    )
    ap.add_argument(
        "--split",
        choices=("random", "recent", "temporal"),
        default=None,
        help="the product's validation split for train (default: the product's own)",
    )
    ap.add_argument("--touchpoint", default=None, help="the CLI to run (default: the venv's)")
    ap.add_argument(
        "--goal", type=float, default=GOAL_NDCG, help="NDCG@K goal (default: MovieLens 0.48)"
    )
    ap.add_argument("--json", action="store_true", help="print one JSON dict instead")
    return ap


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    result = measure(
        args.data,
        args.heldout,
        k=args.k,
        budget_seconds=args.budget_seconds,
        split=args.split,
        touchpoint=args.touchpoint,
        goal=args.goal,
    )
    if args.json:
        print(json.dumps(result, default=str))
    else:
        print_report(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
