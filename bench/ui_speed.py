"""Dashboard page speed: server time of the overview and the customer 360 page (and the
other pages) beside `GET /healthz`, measured in the same run against the same server; and
the bytes a browser loads for the heaviest page, first (HTML + every static file) and
again (static files cached).

    TOUCHPOINT_REDIS_URL=... .venv/bin/python bench/ui_speed.py --data DIR [--rounds 200]

DIR is what `touchpoint generate` + `touchpoint run` made (its Redis: TOUCHPOINT_REDIS_URL, or
the directory's embedded one). One uvicorn worker; requests one at a time from one client
(server time, not throughput), interleaved healthz / overview / customer 360 (a random
customer of the data each time, on all six channels), after a warm-up. The dashboard runs
open (no API keys), so no login is timed. Goal (issue 22): every page <= 150 ms p95 with
100k customers; the heaviest page <= 1.5 MB on first load, <= 100 KB afterwards.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
OTHER_PAGES = ("models", "segments", "experiments", "cx", "cases", "rules", "operations")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def customers_of(data: Path, n: int) -> list[str]:
    ids = pq.read_table(data / "customers.parquet", columns=["customer_id"])["customer_id"]
    chosen = random.Random(7).sample(range(len(ids)), min(n, len(ids)))
    return [str(ids[i]) for i in chosen]


def page_weight(http: httpx.Client, path: str) -> tuple[int, int]:
    """(first load bytes: HTML and every static file it names, repeat load: HTML only —
    static files carry content hashes and `immutable`, so a browser keeps them)."""
    html = http.get(path)
    static = set(re.findall(r'(?:src|href)="(/ui/static/[^"]+)"', html.text))
    first = len(html.content) + sum(len(http.get(s).content) for s in static)
    return first, len(html.content)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    env = {**os.environ, "TOUCHPOINT_DATA_DIR": str(args.data)}
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "api.app:create_app", "--factory", "--port",
         str(port), "--no-access-log", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base, timeout=30) as http:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if http.get("/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit("API not ready")
                time.sleep(0.3)
            people = customers_of(args.data, args.rounds)
            targets = {
                "GET /healthz": lambda _i: "/healthz",
                "overview /ui/": lambda _i: "/ui/",
                "customer 360": lambda i: f"/ui/customers?customer_id={people[i % len(people)]}",
                **{f"/ui/{p}": (lambda _i, p=p: f"/ui/{p}") for p in OTHER_PAGES},
            }
            started = time.perf_counter()  # the first overview reads the batch files
            assert http.get("/ui/").status_code == 200
            cold = (time.perf_counter() - started) * 1000
            for i in range(20):  # warm-up: caches of batch files, registry, code paths
                for path_of in targets.values():
                    assert http.get(path_of(i)).status_code == 200
            times: dict[str, list[float]] = {name: [] for name in targets}
            for i in range(args.rounds):
                for name, path_of in targets.items():
                    started = time.perf_counter()
                    response = http.get(path_of(i))
                    times[name].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, (name, response.status_code)
            heaviest = max(("/ui/", "/ui/segments", f"/ui/customers?customer_id={people[0]}",
                            "/ui/models", "/ui/operations", "/ui/cx", "/ui/cases"),
                           key=lambda p: page_weight(http, p)[0])  # fmt: skip
            first, again = page_weight(http, heaviest)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"data: {args.data} ({len(people)} customers sampled), {args.rounds} rounds")
    print(f"{'':16} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for name, values in times.items():
        print(f"{name:16} {statistics.median(values):8.1f} {percentile(values, 0.95):8.1f} "
              f"{percentile(values, 0.99):8.1f}")  # fmt: skip
    print(f"first overview after start-up (reads events and segments files): {cold:.0f} ms")
    print(
        f"heaviest page {heaviest}: first load {first / 1024:.1f} KB, "
        f"afterwards {again / 1024:.1f} KB"
    )


if __name__ == "__main__":
    main()
