"""Redis capacity model: memory per customer, per item, per served answer and Redis CPU per
request, measured on a published synthetic version; then shards and API replicas for a
target (default 20M customers at 10,000 GET recommendations/s) with the formula shown.

One redis-server (unix socket, no persistence: memory and CPU per key and per command are
the same on a cluster's shard) gets `bench/cluster_speed.py`'s synthetic version
(`--customers`, 100 ranked candidates, a profile and 30 history items each; 2,000 items).
- per customer: `MEMORY USAGE … SAMPLES 0` summed over every published key of a sample of
  customers (and `used_memory` growth over the publish, which adds Redis's per-key overhead);
- per item: the version's shared keys (item table, popular lists) over the item count;
- per served answer: `used_memory` growth over `--requests` GET recommendations (the
  post-answer writes: what each answer served, kept `TOUCHPOINT_ATTRIBUTION_DAYS`; the
  customers' impression windows; daily counters), beside `MEMORY USAGE` of the served keys;
- Redis CPU per request: the redis-server process's user + system CPU (/proc) over the
  requests, and `INFO commandstats` µs (command time only) — beside the baseline of the same
  run: one plain `GET` of a customer's key, 4 × `--requests` round trips from redis-py.
The API is one uvicorn worker with the repository's default rules (their impression caps
make every answer write); the load is `--concurrency` asyncio clients in this process.

    .venv/bin/python bench/redis_capacity.py [--customers 20000] [--requests 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._redis import start_redis  # noqa: E402
from bench.api_load import cpu_seconds, start_server, wait_http  # noqa: E402
from bench.cluster_speed import N_ITEMS, publish  # noqa: E402
from store.keys import Keys  # noqa: E402
from store.serving import ARTIFACT  # noqa: E402

KEYS = Keys()
PORT = 8941


def memory(client: redis.Redis, keys: list[bytes]) -> int:
    pipe = client.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    return sum(int(n or 0) for n in pipe.execute())


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])  # type: ignore[index]


def command_usec(client: redis.Redis) -> tuple[float, int]:
    stats = client.info("commandstats")
    return (sum(float(s["usec"]) for s in stats.values()),  # type: ignore[union-attr]
            sum(int(s["calls"]) for s in stats.values()))  # type: ignore[union-attr]  # fmt: skip


async def load(ids: list[str], requests: int, concurrency: int) -> dict[str, int]:
    codes: dict[str, int] = {}
    queue = iter(range(requests))

    async def one(client: httpx.AsyncClient) -> None:
        for _ in queue:
            r = await client.get(f"/v1/customers/{random.choice(ids)}/recommendations",
                                 params={"k": 10})  # fmt: skip
            code = str(r.status_code) + (" degraded" if r.json().get("degraded") else "")
            codes[code] = codes.get(code, 0) + 1

    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{PORT}", timeout=30) as client:
        await asyncio.gather(*(one(client) for _ in range(concurrency)))
    return codes


def baseline(client: redis.Redis, key: str, requests: int, pid: int) -> tuple[float, float]:
    """Redis CPU and command µs of one plain GET, one round trip each (the floor of a
    request: its read and its reply)."""
    client.config_resetstat()
    cpu = cpu_seconds(pid)
    for _ in range(requests):
        client.get(key)
    usec, _ = command_usec(client)
    return 1e6 * (cpu_seconds(pid) - cpu) / requests, usec / requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=5_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--sample", type=int, default=1_000, help="customers measured by key")
    parser.add_argument("--target-customers", type=float, default=20e6)
    parser.add_argument("--target-rps", type=float, default=10_000)
    parser.add_argument("--attribution-days", type=float, default=7)
    parser.add_argument("--shard-gb", type=float, default=25, help="usable memory per shard")
    parser.add_argument("--shard-busy", type=float, default=0.5, help="CPU share a shard may use")
    parser.add_argument("--api-busy", type=float, default=0.6, help="CPU share per API replica")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tp-capacity-"))
    server, url = start_redis(work)
    api = None
    try:
        client = redis.Redis.from_url(url)
        empty = used_memory(client)
        publish_s = publish(url, args.customers)
        published = used_memory(client) - empty
        version = client.get(KEYS.live(ARTIFACT)).decode()  # type: ignore[union-attr]
        ids = [f"c{n}" for n in range(args.customers)]
        sample = random.Random(7).sample(ids, min(args.sample, len(ids)))
        # the names one customer's keys have (one SCAN), then those keys of every sampled one
        mine = KEYS.customer_data(ARTIFACT, version, ids[0], "")
        names = [k.decode()[len(mine) :] for k in client.scan_iter(mine + "*", count=5000)]
        per_customer = memory(client, [KEYS.customer_data(ARTIFACT, version, c, n).encode()
                                       for c in sample for n in names]) / len(sample)  # fmt: skip
        shared = [k for k in client.scan_iter(KEYS.data_pattern(ARTIFACT, version), count=5000)
                  if b":c:{" not in k]  # fmt: skip
        per_item = memory(client, shared) / N_ITEMS

        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "TOUCHPOINT_REDIS_URL": url,
               "TOUCHPOINT_DATA_DIR": str(work / "data"),
               "TOUCHPOINT_BUSINESS_RULES_DIR": str(ROOT / "rules")}  # fmt: skip
        api = start_server("api.app:create_app", PORT, env)
        wait_http(f"http://127.0.0.1:{PORT}/readyz")
        asyncio.run(load(ids, 500, args.concurrency))  # warm-up (windows exist, code warm)
        base_cpu, base_usec = baseline(
            client, KEYS.customer_data(ARTIFACT, version, ids[0], "recs"), 4 * args.requests,
            server.pid)  # fmt: skip
        before_mem = used_memory(client)
        client.config_resetstat()
        redis_cpu, api_cpu = cpu_seconds(server.pid), cpu_seconds(api.pid)
        started = time.perf_counter()
        codes = asyncio.run(load(ids, args.requests, args.concurrency))
        seconds = time.perf_counter() - started
        time.sleep(0.5)  # the last answers' writes
        redis_us = 1e6 * (cpu_seconds(server.pid) - redis_cpu) / args.requests
        api_us = 1e6 * (cpu_seconds(api.pid) - api_cpu) / args.requests
        usec, calls = command_usec(client)
        top = sorted(client.info("commandstats").items(), key=lambda kv: -float(kv[1]["usec"]))
        for name, stat in top[:6]:
            print(
                f"  {name}: {stat['calls'] / args.requests:.2f} calls, "
                f"{float(stat['usec']) / args.requests:.1f} us per request"
            )
        per_answer = (used_memory(client) - before_mem) / args.requests
        served = list(client.scan_iter("tp:r:*:served", count=5000))[:1000]
        served_bytes = memory(client, served) / max(len(served), 1)
        figures = {
            "customers": args.customers, "publish_s": publish_s, "names": sorted(names),
            "per_customer": per_customer, "per_customer_used": published / args.customers,
            "per_item": per_item, "per_answer": per_answer, "served_key": served_bytes,
            "redis_us": redis_us, "redis_cmd_us": usec / args.requests,
            "calls": calls / args.requests, "base_us": base_cpu, "base_cmd_us": base_usec,
            "api_us": api_us, "rps": args.requests / seconds, "codes": codes,
        }  # fmt: skip
        report(args, figures)
    finally:
        if api is not None:
            api.terminate()
            api.wait(timeout=20)
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, f: dict) -> None:  # type: ignore[type-arg]
    gb = 1e9
    print(f"published {f['customers']:,} customers in {f['publish_s']:.1f} s; answers {f['codes']}")
    print(
        f"memory per customer: {f['per_customer']:,.0f} B by MEMORY USAGE "
        f"({f['per_customer_used']:,.0f} B by used_memory growth, with key overhead)"
    )
    print(f"  a customer's published keys: {', '.join(f['names'])}")
    print(f"memory per item (shared keys): {f['per_item']:,.0f} B")
    print(
        f"memory per served answer: {f['per_answer']:,.0f} B by used_memory growth "
        f"(what it served: {f['served_key']:,.0f} B by MEMORY USAGE)"
    )
    print(
        f"Redis CPU per GET recommendations: {f['redis_us']:.1f} us process "
        f"({f['redis_cmd_us']:.1f} us in commands, {f['calls']:.1f} calls); baseline, one "
        f"plain GET: {f['base_us']:.1f} us process ({f['base_cmd_us']:.2f} us in commands)"
    )
    print(
        f"API CPU per request (one uvicorn worker): {f['api_us']:.0f} us "
        f"({f['rps']:.0f} req/s here, a shared 2-core machine)"
    )
    customers, rps = args.target_customers, args.target_rps
    kept = rps * 86400 * args.attribution_days
    answers = kept * f["per_answer"]
    total = 2 * customers * f["per_customer_used"] + N_ITEMS * f["per_item"] + answers
    by_memory = math.ceil(total / (args.shard_gb * gb))
    by_cpu = math.ceil(rps * f["redis_us"] / 1e6 / args.shard_busy)
    apis = math.ceil(rps * f["api_us"] / 1e6 / args.api_busy)
    print(f"\ncapacity for {customers:,.0f} customers at {rps:,.0f} req/s:")
    print(
        f"  memory = 2 x customers x {f['per_customer_used']:,.0f} B (two versions during a "
        f"publish) + items x {f['per_item']:,.0f} B + req/s x 86400 x "
        f"{args.attribution_days:g} days x {f['per_answer']:,.0f} B = {total / gb:,.0f} GB"
    )
    print(f"  shards by memory = ceil({total / gb:,.0f} GB / {args.shard_gb:g} GB) = {by_memory}")
    print(
        f"  shards by CPU = ceil(req/s x {f['redis_us']:.1f} us / {args.shard_busy:g} core) "
        f"= {by_cpu}"
    )
    print(f"  shards = max = {max(by_memory, by_cpu)} primaries (+1 replica each)")
    day = (total - answers + rps * 86400 * f["per_answer"]) / gb
    print(
        f"  (answers kept 1 day instead: {day:,.0f} GB, "
        f"{max(math.ceil(day / args.shard_gb), by_cpu)} primaries)"
    )
    print(
        f"  API replicas = ceil(req/s x {f['api_us']:.0f} us / {args.api_busy:g} core) "
        f"= {apis} single-worker replicas (cores)"
    )


if __name__ == "__main__":
    main()
