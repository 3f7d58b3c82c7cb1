"""GET recommendations with the rate limiter on and off, measured in the same run.

Three `touchpoint` API servers (one uvicorn worker each) read one synthetic serving version
(`bench/api_synthetic.py`: 100k customers, 20k items) in one private redis-server, and every
request carries the same API key:
- `off`: no rate limit configured (the default): the limiter costs nothing;
- `on`: a per-key and a per-address limit far above the load, so every request takes a
  token from two buckets (two script calls, sent with the request's read) and none is refused;
- `refusing`: a limit of 1 request a second: nearly every request is answered 429 (how cheap a
  refusal is).
They are measured in interleaved rounds (`--rounds` of `--duration` s each) with `wrk`, and
each ratio is taken within a round, then the median (a shared machine drifts).

    .venv/bin/python bench/limits_load.py [--rounds 5 --duration 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import (  # noqa: E402
    combined,
    customer_ids,
    start_redis,
    start_server,
    wait_http,
    wrk,
)
from bench.api_synthetic import publish_synthetic  # noqa: E402

HIGH = json.dumps({"*": {"rate": 1e9, "burst": 1_000_000_000}})
LOW = json.dumps({"*": {"rate": 1, "burst": 1}})
CONFIGS = {
    "off": {},
    "on": {"TOUCHPOINT_KEY_RATE_LIMITS": HIGH, "TOUCHPOINT_ADDRESS_RATE_LIMITS": HIGH},
    "refusing": {"TOUCHPOINT_KEY_RATE_LIMITS": LOW},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--port", type=int, default=8921)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk not found: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="tp-limits-"))
    servers: dict[str, subprocess.Popen[bytes]] = {}
    redis_proc, url = start_redis(work)
    try:
        ids = customer_ids(None, work / "ids.txt", publish_synthetic(url))
        key = make_key(url)
        base = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TOUCHPOINT_REDIS_URL": url,
                "TOUCHPOINT_BUSINESS_RULES_DIR": str(ROOT / "rules"), "TP_KEY": key}  # fmt: skip
        ports = {name: args.port + i for i, name in enumerate(CONFIGS)}
        for name, extra in CONFIGS.items():
            servers[name] = start_server("api.app:create_app", ports[name], {**base, **extra})
        for name in CONFIGS:
            wait_http(f"http://127.0.0.1:{ports[name]}/readyz")
        os.environ["TP_KEY"] = key  # wrk's script sends it
        load = {"duration": args.duration, "connections": args.connections}
        for name in CONFIGS:
            wrk(ports[name], "get", ids, duration=3, connections=args.connections, watch={})
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in CONFIGS}
        for _ in range(args.rounds):
            for name in CONFIGS:
                watch = {"server": servers[name].pid, "redis": redis_proc.pid}
                runs[name].append(wrk(ports[name], "get", ids, **load, watch=watch))
        report(load, args.rounds, runs)
    finally:
        for proc in servers.values():
            proc.terminate()
            proc.wait(timeout=20)
        redis_proc.terminate()
        redis_proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def make_key(url: str) -> str:
    import redis

    from store.apikeys import create_key
    from store.keys import Keys

    client = redis.Redis.from_url(url)
    _, secret = create_key(client, Keys(), name="bench", scopes=["personalize:read"])
    client.close()
    return secret


def report(load: dict[str, int], rounds: int, runs: dict[str, list[dict]]) -> None:
    rows = {name: combined(r) for name, r in runs.items()}
    print(f"\nwrk -t1 -c{load['connections']} -d{load['duration']}s, 1 worker each, {rounds}"
          " rounds of off / on / refusing in turn (medians); GET recommendations?k=10")  # fmt: skip
    print(f"{'limiter':<10} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'non-2xx':>9}"
          f" {'server us':>10} {'redis us':>9}")  # fmt: skip
    for name, s in rows.items():
        print(f"{name:<10} {s['rps']:>9.0f} {s['p50_us'] / 1000:>8.2f} {s['p99_us'] / 1000:>8.2f}"
              f" {s['errors']:>9.0f} {s['server_us']:>10.0f} {s['redis_us']:>9.1f}")  # fmt: skip
    ratios = [on["rps"] / off["rps"] for on, off in zip(runs["on"], runs["off"], strict=True)]
    print("req/s on / off per round: " + " ".join(f"{x:.3f}" for x in ratios))
    # CPU per request (API worker + Redis) drifts less than req/s on a shared machine
    cpu = [
        (on["server_us"] + on["redis_us"]) / (off["server_us"] + off["redis_us"])
        for on, off in zip(runs["on"], runs["off"], strict=True)
    ]
    print("CPU a request (worker + Redis) on / off per round: " + " ".join(f"{x:.3f}" for x in cpu))
    print(f"medians: req/s on / off = {statistics.median(ratios):.3f};"
          f" CPU a request on / off = {statistics.median(cpu):.3f}")  # fmt: skip
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("JSON " + json.dumps({"runs": runs, "ratio": statistics.median(ratios)}))


if __name__ == "__main__":
    main()
