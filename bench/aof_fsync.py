"""What `TOUCHPOINT_REDIS_APPENDFSYNC=always` costs: XADD throughput (the intake's write) on
a redis-server with the append-only file under `everysec` and under `always`, in one run.

    .venv/bin/python bench/aof_fsync.py [-n 20000] [-c 16]

`redis-benchmark` sends `XADD` of one event-sized entry from `-c` clients; the figure is
the requests per second it reports. Alternating rounds, as the machine's speed drifts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._redis import start_redis  # noqa: E402

FIELDS = ["customer_id", "C000123", "item_id", "P00042", "type", "purchase", "channel", "web"]


def xadd_rate(socket: str, *, requests: int, clients: int) -> float:
    args = ["redis-benchmark", "-s", socket, "-n", str(requests), "-c", str(clients), "-q",
            "XADD", "bench:events", "*", *FIELDS]  # fmt: skip
    out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    line = next(row for row in out.replace("\r", "\n").splitlines() if "requests per second" in row)
    return float(line.rsplit(":", 1)[1].split()[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20_000, help="XADDs per round")
    parser.add_argument("-c", type=int, default=16, help="clients")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tp-aof-"))
    proc, url = start_redis(work, aof=True)
    socket = url.removeprefix("unix://")
    rates: dict[str, list[float]] = {"everysec": [], "always": []}
    try:
        import redis

        client = redis.Redis(unix_socket_path=socket)
        for _ in range(args.rounds):
            for policy in rates:
                client.config_set("appendfsync", policy)
                rates[policy].append(xadd_rate(socket, requests=args.n, clients=args.c))
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)
    for policy, values in rates.items():
        print(f"appendfsync {policy:<8} XADD/s median {statistics.median(values):>9.0f}  "
              f"rounds {' '.join(f'{v:.0f}' for v in values)}")  # fmt: skip
    ratio = statistics.median(rates["always"]) / statistics.median(rates["everysec"])
    print(f"always / everysec = {ratio:.2f}")


if __name__ == "__main__":
    main()
