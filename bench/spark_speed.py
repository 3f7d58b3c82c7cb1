"""The Spark engine beside the pandas engine, same data, same run: `touchpoint segment`
wall time and peak memory (the whole process tree, so the Spark JVM counts), and whether
the two tables agree.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python bench/spark_speed.py [--customers 20000]
        [--events-per-customer 20] [--spark-master local[2]] [--data DIR]

Data comes from `touchpoint generate` (under bench/.cache/, never committed). Both jobs run
as subprocesses of this checkout (`--no-publish`, table written to Parquet). On one small
machine local Spark is expected to be slower: it pays for a JVM, query planning and a
shuffle per aggregate that the single-process engine does not; it pays off when the data
no longer fits one machine.

`touchpoint train` (`--no-publish`) runs next, pandas (model search within
`--budget-seconds`) then Spark (one MLlib ALS configuration beside popularity); a model
refused as worse than popularity (exit 1) is reported as refused, with its time.
`--steps train` measures training only. `--steps run`: `touchpoint run` (segment, insights,
train, publish to the data directory's embedded Redis) on each engine, the whole batch,
with the peak RSS split by process: the JVM (in local mode the driver and the executors are
one JVM: what a cluster's executors would need between them) and the Python processes (the
driver's pandas steps, the Python workers), and Spark's own peaks from its event log (the
JVM heap in use, managed execution and storage memory), which say what the heap needed
rather than what `--driver-memory` allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import contextlib

import numpy as np
import pandas as pd
import psutil
import redis
from sklearn.metrics import adjusted_rand_score

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._redis import start_redis  # noqa: E402

CLI = [sys.executable, "-c", "from jobs.cli import main; main()"]  # this checkout's code


def ensure_data(data: Path, customers: int, per_customer: float) -> None:
    if (data / "events.parquet").exists():
        return
    cmd = [*CLI, "generate", "--customers", str(customers), "--items", "2000",
           "--events-per-customer", str(per_customer), "--seed", "7", "--out", str(data),
           "--json"]  # fmt: skip
    subprocess.run(cmd, check=True, cwd=ROOT, capture_output=True)


def tree_rss(process: psutil.Process) -> dict[str, int]:
    """RSS of the process tree by kind: the Spark JVM (driver and, in local mode, its
    executors) and the Python processes (driver, workers). The embedded redis-server runs
    apart from the command (`bench/redis_capacity.py` measures Redis memory)."""
    total = {"jvm": 0, "python": 0}
    for proc in [process, *process.children(recursive=True)]:
        try:
            name = proc.name()
            rss = proc.memory_info().rss
        except psutil.Error:
            continue
        if "redis" in name:
            continue
        kind = "jvm" if name == "java" else "python"
        total[kind] += rss
    return total


def run(
    args: list[str], refusable: bool = False, env: dict[str, str] | None = None
) -> tuple[float, dict[str, float], dict[str, object]]:
    """Wall seconds, peak RSS (GiB, sampled every 0.1 s) of the process tree (`total`) and
    of each kind of process in it (`tree_rss`), JSON summary (`{"refused": ...}` when
    `refusable` and the step exited 1)."""
    started = time.perf_counter()
    child = subprocess.Popen([*CLI, *args], cwd=ROOT, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True,
                             env={**os.environ, **(env or {})})  # fmt: skip
    peak: dict[str, int] = {"total": 0, "jvm": 0, "python": 0}
    watched = psutil.Process(child.pid)
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            with contextlib.suppress(psutil.Error):
                now = tree_rss(watched)
                now["total"] = sum(now.values())
                for kind, rss in now.items():
                    peak[kind] = max(peak[kind], rss)
            time.sleep(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = child.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - started
    gib = {kind: rss / 2**30 for kind, rss in peak.items()}
    if refusable and child.returncode == 1:
        return wall, gib, {"refused": " ".join(err.split()[-40:])}
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed with exit code {child.returncode}")
    return wall, gib, json.loads(out.strip().splitlines()[-1])


def equal(a: pd.Series, b: pd.Series) -> bool:
    if pd.api.types.is_float_dtype(a.dtype):
        return bool(np.allclose(a.to_numpy(float), b.to_numpy(float), rtol=1e-9, equal_nan=True))
    return a.astype(str).tolist() == b.astype(str).tolist()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--events-per-customer", type=float, default=20.0)
    parser.add_argument("--spark-master", default="local[2]")
    parser.add_argument("--data", type=Path, default=None, help="where the generated data goes")
    parser.add_argument("--steps", default="segment,train", help="segment, train and/or run")
    parser.add_argument("--budget-seconds", type=float, default=60.0, help="pandas train")
    parser.add_argument("--driver-memory", default="6g", help="--steps run: the Spark JVM heap")
    args = parser.parse_args()
    name = f"spark-{args.customers}-{args.events_per_customer:g}"
    data = args.data or ROOT / "bench" / ".cache" / name
    ensure_data(data, args.customers, args.events_per_customer)
    events = len(pd.read_parquet(data / "events.parquet", columns=["event_id"]))
    if "segment" in args.steps:
        segment(args, data, events)
    if "train" in args.steps:
        train(args, data, events)
    if "run" in args.steps:
        whole_batch(args, data, events)


def whole_batch(args: argparse.Namespace, data: Path, events: int) -> None:
    """`touchpoint run` on each engine: segment + insights + train + publish, end to end,
    each publishing to a fresh redis-server of the bench's (as a deployment's dedicated
    Redis: the data directory's embedded one would reload every earlier run's versions at
    each start), whose `used_memory_peak` is reported."""
    rows = []
    log_dir = Path(tempfile.mkdtemp(prefix="spark-events-"))
    for engine in ("pandas", "spark"):
        memory = f"spark.driver.memory={args.driver_memory}"
        cmd = ["run", "--data", str(data), "--json", "--engine", engine,
               "--budget-seconds", str(args.budget_seconds), "--spark-master",
               args.spark_master, "--conf", memory, *event_log(log_dir)]  # fmt: skip
        with tempfile.TemporaryDirectory(prefix="bench-redis-") as work:
            server, url = start_redis(Path(work))
            try:
                wall, peak, summary = run(cmd, refusable=True, env={"TOUCHPOINT_REDIS_URL": url})
                peak["redis"] = redis.Redis.from_url(url).info("memory")["used_memory_peak"] / 2**30
            finally:
                server.terminate()
                server.wait()
        rows.append((engine, wall, peak, summary))
        print(f"{engine}: {wall:.1f} s, {summary}", flush=True)
    heap = heap_peaks(log_dir)
    print(f"touchpoint run, {args.customers:,} customers, {events:,} events, "
          f"Spark master {args.spark_master}, driver memory {args.driver_memory}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'engine':8} {'wall s':>8} {'peak RSS GiB: tree':>19} {'JVM':>6} {'Python':>7} "
          f"{'Redis used_memory_peak':>23}  outcome")  # fmt: skip
    for engine, wall, peak, summary in rows:
        outcome = (f"refused: {summary['refused']}" if "refused" in summary else
                   ", ".join(f"{k} {v}" for k, v in summary.items()
                             if "seconds" in k or "version" in k))  # fmt: skip
        print(f"{engine:8} {wall:8.1f} {peak['total']:19.2f} {peak['jvm']:6.2f} "
              f"{peak['python']:7.2f} {peak['redis']:23.2f}  {outcome}")  # fmt: skip
    print(f"Spark/pandas wall time: {rows[1][1] / rows[0][1]:.1f}x")
    print("Spark's own peaks over the run (event log, per-stage executor metrics, GiB): "
          + ", ".join(f"{k} {v / 2**30:.2f}" for k, v in heap.items()))  # fmt: skip


def event_log(directory: Path) -> list[str]:
    """`--conf`s making Spark log each stage's peak executor metrics to `directory`."""
    confs = {"spark.eventLog.enabled": "true", "spark.eventLog.dir": directory.as_uri(),
             "spark.eventLog.logStageExecutorMetrics": "true", "spark.eventLog.compress": "false",
             "spark.eventLog.rolling.enabled": "false"}  # fmt: skip
    return [arg for key, value in confs.items() for arg in ("--conf", f"{key}={value}")]


def heap_peaks(directory: Path) -> dict[str, int]:
    """The highest JVM heap in use and Spark's managed on-heap memory (execution, storage)
    that any stage of the logged applications reached, in bytes."""
    names = ("JVMHeapMemory", "OnHeapExecutionMemory", "OnHeapStorageMemory")
    peaks = dict.fromkeys(names, 0)
    for path in (p for p in directory.rglob("*") if p.is_file()):
        for line in path.read_text(errors="replace").splitlines():
            if '"Executor Metrics"' not in line:
                continue
            metrics = json.loads(line).get("Executor Metrics") or {}
            for name in names:
                peaks[name] = max(peaks[name], int(metrics.get(name, 0)))
    return peaks


def train(args: argparse.Namespace, data: Path, events: int) -> None:
    rows = []
    for engine in ("pandas", "spark"):
        cmd = ["train", "--data", str(data), "--no-publish", "--json", "--engine", engine,
               "--budget-seconds", str(args.budget_seconds), "--spark-master",
               args.spark_master, "--conf", "spark.driver.memory=4g"]  # fmt: skip
        wall, peak, summary = run(cmd, refusable=True)
        rows.append((engine, wall, peak, summary))
    print(f"touchpoint train, {args.customers:,} customers, {events:,} events, "
          f"Spark master {args.spark_master}, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'engine':8} {'wall s':>8} {'peak RSS GiB':>13}  outcome")
    for engine, wall, peak, summary in rows:
        outcome = (f"refused: {summary['refused']}" if "refused" in summary else
                   f"{summary.get('model')}; " + ", ".join(
                       f"{k} {v}" for k, v in summary.items() if "ndcg" in k))  # fmt: skip
        print(f"{engine:8} {wall:8.1f} {peak['total']:13.2f}  {outcome}")
    print(f"Spark/pandas wall time: {rows[1][1] / rows[0][1]:.1f}x")


def segment(args: argparse.Namespace, data: Path, events: int) -> None:
    tables = {}
    rows = []
    for engine in ("pandas", "spark"):
        output = data.parent / f"{data.name}-{engine}.parquet"
        cmd = ["segment", "--data", str(data), "--no-publish", "--json", "--output", str(output),
               "--engine", engine, "--spark-master", args.spark_master,
               "--conf", "spark.driver.memory=4g"]  # fmt: skip
        wall, peak, summary = run(cmd)
        rows.append((engine, wall, peak, summary.get("segment_seconds")))
        tables[engine] = pd.read_parquet(output)
    print(f"touchpoint segment, {args.customers:,} customers, {events:,} events, "
          f"Spark master {args.spark_master}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'engine':8} {'wall s':>8} {'segment s':>10} {'peak RSS GiB':>13}")
    for engine, wall, peak, seconds in rows:
        print(f"{engine:8} {wall:8.1f} {seconds!s:>10} {peak['total']:13.2f}")
    base, spark = tables["pandas"], tables["spark"]
    skip = ("cluster", "cluster_description", "segments")
    same = [c for c in base.columns if c not in skip and equal(base[c], spark[c])]
    print(
        "columns equal (clusters aside; money to 1e-9 relative: summation order): "
        f"{len(same)} of {len(base.columns) - 3}; "
        f"Spark/pandas wall time: {rows[1][1] / rows[0][1]:.1f}x"
    )
    buyers = base["cluster"] >= 0
    ari = adjusted_rand_score(base["cluster"][buyers], spark["cluster"][buyers])
    print(f"clusters: k {base['cluster'].max() + 1} (pandas) vs {spark['cluster'].max() + 1} "
          f"(Spark), adjusted Rand index {ari:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
