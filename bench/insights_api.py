"""Latency of `GET /v1/insights/scores` from published results, beside `/healthz` in the same run.

One uvicorn worker on 127.0.0.1 and a throwaway redis-server; the insights published are
either synthetic score tables of a year (14 touchpoints x 365 days, 52 weeks and 12 months,
every metric: the size `touchpoint insights` publishes for that history) or, with
`--data DIR`, what `touchpoint insights` builds from that directory. Requests go one at a
time from a keep-alive client (latency, not throughput); each query is a different
window of the touchpoint x day table, alternating with `/healthz`. Goal: p99 <= 20 ms.

    .venv/bin/python bench/insights_api.py -n 3000
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.api_load import start_redis, start_server, wait_http  # noqa: E402

TOUCHPOINTS = ["discovery", "ads", "search", "product_page", "store_visit", "checkout",
               "payment", "delivery", "onboarding", "app", "support", "returns",
               "repurchase", "loyalty"]  # fmt: skip
START = date(2025, 12, 1)


def synthetic_documents() -> dict[str, Any]:
    from insights.build import document_name
    from insights.stats import METRICS

    rng = random.Random(0)
    starts = {
        "day": [START + timedelta(days=i) for i in range(365)],
        "week": [START + timedelta(weeks=i) for i in range(52)],
        "month": [date(2025 + (11 + i) // 12, (11 + i) % 12 + 1, 1) for i in range(12)],
    }
    docs: dict[str, Any] = {}
    for metric in METRICS:
        for period, days in starts.items():
            rows = []
            for tp in TOUCHPOINTS:
                for day in days:
                    v = rng.uniform(-40, 60)
                    rows.append({
                        "touchpoint": tp, "period": day.isoformat(), "metric": metric,
                        "n": rng.randint(5, 400), "value": v, "low": v - 8, "high": v + 8,
                        "insufficient": False, "previous": v + 1, "previous_n": 100,
                        "change": -1.0, "change_p": 0.4, "change_flag": False, "rest": v - 2,
                        "rest_n": 5000, "rest_p": 0.3, "rest_flag": False,
                    })  # fmt: skip
            docs[document_name(metric, ["touchpoint"], period)] = rows
    return docs


def built_documents(data: Path) -> dict[str, Any]:
    from contracts.tables import load_tables
    from jobs.insights import run_insights

    return run_insights(data, load_tables(data), publish=False).documents


def timed(client: Any, url: str) -> float:
    t0 = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - t0
    if response.status_code != 200:
        raise RuntimeError(f"{url}: {response.status_code} {response.text[:200]}")
    return elapsed * 1000


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="requests per endpoint")
    parser.add_argument("--data", type=Path, help="build the insights from this data dir")
    parser.add_argument("--port", type=int, default=0, help="default: a free one")
    args = parser.parse_args()

    import httpx
    import redis

    from store.config import StoreConfig
    from store.insights import publish_insights

    with tempfile.TemporaryDirectory(prefix="tp-insights-bench-") as tmp:
        work = Path(tmp)
        redis_proc, url = start_redis(work)
        server = None
        try:
            config = StoreConfig(data_dir=work / "data", redis_url=url)
            docs = built_documents(args.data) if args.data else synthetic_documents()
            client = redis.Redis.from_url(url)
            publish_insights(client, config, docs)
            client.close()
            env = {**os.environ, "TOUCHPOINT_REDIS_URL": url,
                   "TOUCHPOINT_DATA_DIR": str(work / "data"),
                   "TOUCHPOINT_BUSINESS_RULES_DIR": str(ROOT / "rules")}  # fmt: skip
            port = args.port or free_port()
            server = start_server("api.app:create_app", port, env)
            base = f"http://127.0.0.1:{port}"
            wait_http(base + "/healthz")
            rng = random.Random(1)
            with httpx.Client(base_url=base, timeout=10) as http:
                scores, health = [], []
                for i in range(args.n + 200):
                    first = START + timedelta(days=rng.randrange(300))
                    query = (f"/v1/insights/scores?metric=nps&by=touchpoint&period=day"
                             f"&from={first}&to={first + timedelta(days=28)}")  # fmt: skip
                    s, h = timed(http, query), timed(http, "/healthz")
                    if i >= 200:  # the first 200 warm the caches
                        scores.append(s)
                        health.append(h)
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=20)
            redis_proc.terminate()
            redis_proc.wait(timeout=20)
    source = f"built from {args.data}" if args.data else "synthetic, one year, 14 touchpoints"
    print(f"insights: {source}; {args.n} requests each, one at a time")
    for name, values in (("GET /v1/insights/scores", scores), ("GET /healthz (baseline)", health)):
        print(f"{name:28s} p50 {statistics.median(values):6.2f} ms   "
              f"p99 {percentile(values, 0.99):6.2f} ms   max {max(values):6.2f} ms")  # fmt: skip
    print("goal: scores p99 <= 20 ms")


if __name__ == "__main__":
    main()
