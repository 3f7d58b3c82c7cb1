"""Wall time and peak memory of `touchpoint generate`, small size beside the large one.

Each size runs in a fresh Python process (so its peak RSS is its own) writing Parquet to a
temporary directory. Wall time depends on what else the machine runs, so CPU time (user +
system, imports included) is printed beside it. The small run is the baseline: if the
generator streams as it should, peak RSS stays about the same while events grow fifty-fold.

Run: OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.generate_speed [--sizes 20000,200000,1000000]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHILD = """
import json, resource, sys, time
from pathlib import Path
from jobs.generate import generate
customers, items, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
started = time.perf_counter()
rows = generate(customers=customers, items=items, seed=7, out=out)
seconds = time.perf_counter() - started
size = sum(p.stat().st_size for p in Path(out).iterdir())
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime
peak_mib = usage.ru_maxrss / 1024  # ru_maxrss is KiB on Linux
result = {"rows": rows, "seconds": seconds, "cpu": cpu, "peak_mib": peak_mib, "bytes": size}
print(json.dumps(result))
"""


@dataclass
class Run:
    customers: int
    events: int
    seconds: float
    cpu: float  # user + system seconds: the wall time on an idle machine
    peak_mib: float
    disk_mib: float


def measure(customers: int, items: int) -> Run:
    out = Path(tempfile.mkdtemp(prefix="tp-gen-bench-"))
    try:
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
        done = subprocess.run(
            [sys.executable, "-c", CHILD, str(customers), str(items), str(out)],
            check=True,
            capture_output=True,
            text=True,
            env=env,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        return Run(
            customers,
            r["rows"]["events"],
            r["seconds"],
            r["cpu"],
            r["peak_mib"],
            r["bytes"] / 2**20,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="Time and peak memory of touchpoint generate.")
    parser.add_argument(
        "--sizes", default="20000,200000,1000000", help="customer counts, comma-separated"
    )
    parser.add_argument("--items", type=int, default=20_000)
    args = parser.parse_args()
    header = f"{'customers':>10} {'events':>12} {'wall s':>8} {'cpu s':>7} {'events/s':>10}"
    print(f"{header} {'peak RSS':>10} {'disk':>9}")
    runs = []
    for customers in (int(s) for s in args.sizes.split(",")):
        r = measure(customers, args.items)
        runs.append(r)
        print(
            f"{r.customers:>10,} {r.events:>12,} {r.seconds:>8.1f} {r.cpu:>7.1f} "
            f"{r.events / r.seconds:>10,.0f} "
            f"{r.peak_mib:>6.0f} MiB {r.disk_mib:>5.0f} MiB",
            flush=True,
        )
    if len(runs) > 1:
        base, big = runs[0], runs[-1]
        print(
            f"baseline {base.customers:,} -> {big.customers:,} customers: "
            f"x{big.events / base.events:.0f} events, peak RSS x{big.peak_mib / base.peak_mib:.2f}"
        )


if __name__ == "__main__":
    main()
