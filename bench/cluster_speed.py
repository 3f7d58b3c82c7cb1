"""GET recommendations served from a local Redis Cluster beside a single Redis, same run.

Both stores get the same synthetic serving version (`--customers`, default 20k, 100 ranked
candidates, a profile and 30 history items each; 2k items; no factors), written through
`store.client.sync_client` (redis-py's RedisCluster for `redis+cluster://`). One uvicorn
worker per store, each with the repository's default rules (their impression caps make every
answer write its windows: on the cluster one call per slot, `store.answers`). The single
Redis listens on 127.0.0.1 TCP like the cluster's three primaries (no unix socket: the
comparison is about the routing, not the transport). `wrk` (`bench/wrk_customers.lua`) in
interleaved rounds, single then cluster; the ratio is taken within each round, then the
median. On one machine the cluster cannot be faster (the same 2 cores run three servers);
the figure says what the slot routing costs the API per request.

    .venv/bin/python bench/cluster_speed.py [--customers 20000] [--rounds 3] [--duration 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.api_load import start_server, wait_http, wrk  # noqa: E402
from store.client import sync_client  # noqa: E402
from store.config import StoreConfig  # noqa: E402
from store.embedded import redis_server_binary  # noqa: E402
from store.serving import ServingBundle, write_serving  # noqa: E402
from store.versions import Versions  # noqa: E402
from tests.cluster.local import LocalCluster, _free_port  # noqa: E402

N_ITEMS, TOP_N = 2000, 100


def bundle(customers: int, seed: int = 3) -> ServingBundle:
    rng = np.random.default_rng(seed)
    kinds = ("product", "product", "product", "content", "offer", "reward")
    items = [
        {"item_id": f"i{i}", "kind": kinds[i % 6], "title": f"Item {i}",
         "category": f"cat{i % 40}", "price": 10.0 + i % 90}
        for i in range(N_ITEMS)
    ]  # fmt: skip
    order = np.arange(N_ITEMS, dtype=np.uint32)
    scores = np.linspace(1, 0, N_ITEMS, dtype=np.float32)
    popular = {"global": (order[:500], scores[:500])}
    for kind in set(kinds):
        keep = np.array([it["kind"] == kind for it in items])
        popular[f"kind:{kind}"] = (order[keep][:500], scores[keep][:500])

    def ranked(n: int) -> tuple:
        idx = rng.choice(N_ITEMS, n, replace=False).astype(np.uint32)
        return idx, np.sort(rng.random(n).astype(np.float32))[::-1].copy()

    ids = [f"c{n}" for n in range(customers)]
    return ServingBundle(
        items=items,
        popular=popular,
        customer_recs=((c, ranked(TOP_N)) for c in ids),
        customer_profiles=((c, {"customer_id": c, "loyalty_tier": "silver"}) for c in ids),
        customer_history=((c, ranked(30)) for c in ids),
        model={"name": "als", "version": "synthetic"},
    )


def publish(url: str, customers: int) -> float:
    started = time.perf_counter()
    client = sync_client(url)
    Versions(client, StoreConfig(redis_url=url)).publish(
        "serving", lambda r: write_serving(r, bundle(customers))
    )
    client.close()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds per measurement")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    if shutil.which("wrk") is None or shutil.which("redis-cli") is None:
        sys.exit("needs wrk and redis-cli on PATH")
    work = Path(tempfile.mkdtemp(prefix="tp-cluster-bench-"))
    cluster = LocalCluster(work / "cluster", replicas=0)  # primaries only, as before
    (work / "cluster").mkdir()
    single_port = _free_port()
    single = subprocess.Popen(
        [redis_server_binary(), "--port", str(single_port), "--bind", "127.0.0.1",
         "--save", "", "--appendonly", "no", "--dir", str(work)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    servers: list[subprocess.Popen[bytes]] = []
    try:
        cluster.start(shutil.which("redis-cli") or "redis-cli")
        urls = {"single": f"redis://127.0.0.1:{single_port}/0", "cluster": cluster.url}
        published = {name: publish(url, args.customers) for name, url in urls.items()}
        ids = work / "ids.txt"
        ids.write_text("\n".join(f"c{n}" for n in range(args.customers)) + "\n")
        ports = {"single": 8931, "cluster": 8932}
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1",
               "TOUCHPOINT_BUSINESS_RULES_DIR": str(ROOT / "rules")}  # fmt: skip
        for name, url in urls.items():
            server_env = {**env, "TOUCHPOINT_REDIS_URL": url,
                          "TOUCHPOINT_DATA_DIR": str(work / name)}  # fmt: skip
            servers.append(start_server("api.app:create_app", ports[name], server_env))
        for name in urls:
            wait_http(f"http://127.0.0.1:{ports[name]}/readyz")
        load = {"duration": args.duration, "connections": args.connections}
        for name in urls:  # warm-up
            wrk(ports[name], "get", ids, duration=3, connections=args.connections, watch={})
        runs: dict[str, list[dict[str, float]]] = {name: [] for name in urls}
        for _ in range(args.rounds):
            for i, name in enumerate(urls):
                runs[name].append(wrk(ports[name], "get", ids, **load,
                                      watch={"server": servers[i].pid}))  # fmt: skip
        report(args, published, runs)
        for port in cluster.primaries():
            print(f"cluster primary :{port} holds {cluster.node(port).dbsize()} keys")
    finally:
        for proc in servers:
            proc.terminate()
            proc.wait(timeout=20)
        cluster.stop()
        single.terminate()
        single.wait(timeout=20)
        shutil.rmtree(work, ignore_errors=True)


def report(args: argparse.Namespace, published: dict[str, float], runs: dict) -> None:
    print(f"\n{args.customers:,} customers, {N_ITEMS:,} items; wrk -t1 -c{args.connections}"
          f" -d{args.duration}s, 1 API worker each, {args.rounds} rounds (medians)")  # fmt: skip
    print(f"{'store':<30} {'publish s':>9} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}"
          f" {'errors':>6} {'API us/req':>10}")  # fmt: skip
    for name, rows in runs.items():
        label = "single Redis (TCP)" if name == "single" else "Redis Cluster, 3 primaries"
        rps = statistics.median(r["rps"] for r in rows)
        p50 = statistics.median(r["p50_us"] for r in rows) / 1000
        p99 = statistics.median(r["p99_us"] for r in rows) / 1000
        errors = sum(r["non_2xx"] + r["socket_errors"] for r in rows)
        cpu = statistics.median(r["server_us"] for r in rows)
        print(f"{label:<30} {published[name]:>9.1f} {rps:>8.0f} {p50:>7.2f} {p99:>7.2f}"
              f" {errors:>6.0f} {cpu:>10.0f}")  # fmt: skip
    ratios = [c["rps"] / s["rps"] for s, c in zip(runs["single"], runs["cluster"], strict=True)]
    print("cluster / single req/s per round: " + " ".join(f"{x:.2f}" for x in ratios)
          + f" (median {statistics.median(ratios):.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
