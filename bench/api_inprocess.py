"""CPU per request of the personalisation API itself, without HTTP or a load generator.

Calls the ASGI app directly (`GET …/recommendations?k=10`, or `POST /v1/personalize` with
three slots), 16 requests in flight at a time, against the data `touchpoint run` published
for `--data DIR` (its embedded Redis), and prints the API process's CPU time per request.
Steadier than `bench/api_load.py` on a shared machine (CPU time, not throughput), so it
shows whether a change to the request path helps; `--profile` adds a cProfile table.

    .venv/bin/python bench/api_inprocess.py --data /tmp/tpbench/data --mode get -n 10000

Environment: TP_SEED (the customers drawn, default 0: the same run after run), TP_WARMUP
(requests before timing, default 300), TP_GATE (see `bench/api_callgrind.sh`, which counts
instructions per request around exactly the timed requests), TP_SORT / TP_DUMP (the
`--profile` table's order / a pstats file).

Measured on the 2-core development machine (100k customers / 20k items, 2026-11-24): GET
~860 us CPU per request on fresh data before the second round of hot-path work, 590-750 us
after it; 131 / 139 us at 1a75653 and 116 / 118 us after the reasons' anchors moved to
the batch (alternating runs, -n 20000; single runs vary by about ±10 us while other jobs
run, and the figure creeps up as impression counts accumulate); POST 2070 us before the
second round, ~1350-1600 after it; 265 / 306 us now (1a75653: 289 / 264). On the next,
slower machine: GET 182 / 176 / 173 / 195 us with the post-answer writes gathered into one
script call per loop turn (e27982a), against 233 / 215 / 202 / 187 us (a5f5a72),
alternating.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PAGE = (
    '{"customer_id":"%s","channel":"web","slots":[{"name":"hero","kind":"product","k":4},'
    '{"name":"deals","kind":"offer","k":3},{"name":"more","kind":"product","k":3}]}'
)
CONCURRENCY = 16


def request(mode: str, customer_id: str) -> tuple[dict[str, Any], bytes]:
    """An ASGI scope and body for one request."""
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "scheme": "http",
        "root_path": "", "server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1),
    }  # fmt: skip
    if mode == "get":
        path = f"/v1/customers/{customer_id}/recommendations"
        scope.update(method="GET", path=path, raw_path=path.encode(), query_string=b"k=10",
                     headers=[(b"host", b"bench")])  # fmt: skip
        return scope, b""
    body = (PAGE % customer_id).encode()
    headers = [(b"host", b"bench"), (b"content-type", b"application/json"),
               (b"content-length", str(len(body)).encode())]  # fmt: skip
    scope.update(method="POST", path="/v1/personalize", raw_path=b"/v1/personalize",
                 query_string=b"", headers=headers)  # fmt: skip
    return scope, body


async def call(app: Any, mode: str, customer_id: str) -> None:
    scope, body = request(mode, customer_id)
    statuses: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    await app(scope, receive, send)
    if statuses != [200]:
        raise RuntimeError(f"{mode} for {customer_id} answered {statuses}")


async def run(data: Path, mode: str, n: int, profile: bool) -> None:
    import pandas as pd

    from api.app import create_app

    ids = pd.read_parquet(data / "customers.parquet", columns=["customer_id"])["customer_id"]
    ids = ids.astype(str).tolist()
    random.seed(int(os.environ.get("TP_SEED", "0")))  # the same customers run after run
    app = create_app()
    async with app.router.lifespan_context(app):
        warm_up = int(os.environ.get("TP_WARMUP", "300"))
        for customer_id in random.sample(ids, warm_up):  # caches, script, connection
            await call(app, mode, customer_id)
        sample = [random.choice(ids) for _ in range(n)]

        async def worker(part: list[str]) -> None:
            for customer_id in part:
                await call(app, mode, customer_id)

        await _gate("ready", "go")
        profiler = cProfile.Profile() if profile else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        await asyncio.gather(*(worker(sample[i::CONCURRENCY]) for i in range(CONCURRENCY)))
        if profiler is not None:
            profiler.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        await _gate("done", "stop")
    print(f"{mode}: {n} requests, {1e6 * cpu / n:.0f} us CPU per request "
          f"({1e6 * wall / n:.0f} us wall), {CONCURRENCY} in flight")  # fmt: skip
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(os.environ.get("TP_SORT", "tottime")).print_stats(30)
        if os.environ.get("TP_DUMP"):
            profiler.dump_stats(os.environ["TP_DUMP"])


async def _gate(mark: str, wait_for: str) -> None:
    """With TP_GATE=DIR: create DIR/<mark>, then wait for DIR/<wait_for> (so a driver can
    switch valgrind's instrumentation on and off around exactly the timed requests)."""
    folder = os.environ.get("TP_GATE")
    if not folder:
        return
    (Path(folder) / mark).touch()
    while not (Path(folder) / wait_for).exists():
        await asyncio.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="published by touchpoint run")
    parser.add_argument("--mode", choices=("get", "post"), default="get")
    parser.add_argument("-n", type=int, default=10_000, help="requests to time")
    parser.add_argument("--profile", action="store_true", help="print a cProfile table")
    args = parser.parse_args()
    os.environ["TOUCHPOINT_DATA_DIR"] = str(args.data)
    os.environ.setdefault("TOUCHPOINT_BUSINESS_RULES_DIR", str(ROOT / "rules"))
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import uvloop

    uvloop.install()
    asyncio.run(run(args.data, args.mode, args.n, args.profile))


if __name__ == "__main__":
    main()
