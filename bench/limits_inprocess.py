"""CPU per GET recommendations with the rate limiter off and on, without HTTP, in one run.

Two apps in one process (`off`: no limit configured; `on`: a per-key and a per-address limit
far above the load, so each request takes a token from two buckets and none is refused)
read one synthetic serving version (`bench/api_synthetic.py`) in a private redis-server; the
same API key on every request. Requests are sent straight to the ASGI app, 16 in flight, in
alternating rounds of `-n` requests (off, on, off, on, …); each round reports the process's
CPU time per request and redis-server's (from /proc), and the on/off ratio is taken within a
pair of rounds, then the median. CPU time drifts far less than throughput on a shared machine.

    .venv/bin/python bench/limits_inprocess.py [-n 4000 --rounds 6]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# before numpy loads (the imports below): OpenBLAS' spinning threads would count as CPU here
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from bench.api_inprocess import request  # noqa: E402
from bench.api_load import cpu_seconds, start_redis  # noqa: E402
from bench.api_synthetic import publish_synthetic  # noqa: E402
from bench.limits_load import make_key  # noqa: E402

CONCURRENCY = 16
HIGH = {"*": {"rate": 1e9, "burst": 1_000_000_000}}


async def call(app: Any, customer_id: str, auth: tuple[bytes, bytes]) -> None:
    scope, _ = request("get", customer_id)
    scope["headers"].append(auth)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"{customer_id} answered {statuses}")


async def timed(app: Any, ids: list[str], auth: tuple[bytes, bytes], redis_pid: int) -> tuple:
    async def worker(part: list[str]) -> None:
        for customer_id in part:
            await call(app, customer_id, auth)

    redis_before, cpu = cpu_seconds(redis_pid), time.process_time()
    await asyncio.gather(*(worker(ids[i::CONCURRENCY]) for i in range(CONCURRENCY)))
    cpu = time.process_time() - cpu
    redis_cpu = cpu_seconds(redis_pid) - redis_before
    return 1e6 * cpu / len(ids), 1e6 * redis_cpu / len(ids)


async def run(url: str, redis_pid: int, ids: list[str], n: int, rounds: int) -> None:
    from api.app import create_app
    from api.settings import ApiSettings

    auth = (b"authorization", b"Bearer " + make_key(url).encode())
    base = {"redis_url": url, "data_dir": Path(tempfile.mkdtemp(prefix="tp-limits-data-"))}
    apps = {
        "off": create_app(ApiSettings(**base)),
        "on": create_app(
            ApiSettings(**base, key_rate_limits=HIGH, address_rate_limits=HIGH)  # type: ignore[arg-type]
        ),
    }
    rng = random.Random(0)
    found: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    off, on = apps["off"], apps["on"]
    async with off.router.lifespan_context(off), on.router.lifespan_context(on):
        for app in apps.values():  # caches, scripts, connections
            for customer_id in rng.sample(ids, 300):
                await call(app, customer_id, auth)
        for _ in range(rounds):
            sample = [rng.choice(ids) for _ in range(n)]
            for name, app in apps.items():  # the same customers for both
                found[name].append(await timed(app, sample, auth, redis_pid))
    print(f"\nGET recommendations?k=10, in process, {CONCURRENCY} in flight, {rounds} rounds of"
          f" {n} requests per app, alternating (us of CPU a request)")  # fmt: skip
    print(
        f"{'round':<6} {'off api':>8} {'off redis':>10} {'on api':>8} {'on redis':>9} {'ratio':>6}"
    )
    ratios = []
    for i, (off, on) in enumerate(zip(found["off"], found["on"], strict=True)):
        ratio = sum(on) / sum(off)
        ratios.append(ratio)
        print(f"{i:<6} {off[0]:>8.0f} {off[1]:>10.1f} {on[0]:>8.0f} {on[1]:>9.1f} {ratio:>6.3f}")
    for name in ("off", "on"):
        api = statistics.median(r[0] for r in found[name])
        redis = statistics.median(r[1] for r in found[name])
        print(f"{name}: median {api:.0f} us API + {redis:.1f} us Redis a request")
    print(f"(API + Redis) on / off = {statistics.median(ratios):.3f} (median of rounds);"
          f" load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=4000, help="requests per app per round")
    parser.add_argument("--rounds", type=int, default=6)
    args = parser.parse_args()
    os.environ.setdefault("TOUCHPOINT_BUSINESS_RULES_DIR", str(ROOT / "rules"))
    work = Path(tempfile.mkdtemp(prefix="tp-limits-"))
    redis_proc, url = start_redis(work)
    try:
        # published by a child process: its garbage would make this one's GC passes longer
        with ProcessPoolExecutor(1) as pool:
            ids = pool.submit(publish_synthetic, url).result()
        import uvloop

        uvloop.install()
        asyncio.run(run(url, redis_proc.pid, ids, args.n, args.rounds))
    finally:
        redis_proc.terminate()
        redis_proc.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
