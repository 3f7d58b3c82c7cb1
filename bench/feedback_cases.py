"""What follow-up cases cost: `POST /v1/feedback` with and without case creation, and the
case queue's list + filter latency over 100k open cases. One run, one throwaway
redis-server (AOF on, `appendfsync everysec`, as the embedded one), the ASGI app called
in-process (no HTTP, no load generator), 16 requests in flight.

1. POST /v1/feedback, alternating rounds of four modes in the same run:
   - `before`: the intake as on main (case planning and the follow-up writes switched off);
   - `happy`: promoters (score 9): the threshold check only, no case (no sentiment model);
   - `scored`: the same promoters with a published sentiment model: each comment scored
     (the model cached in-process), no case;
   - `unhappy`: detractors (score 3): every answer opens or joins a case (one read of the
     published profiles for the customer's value, the open-or-join script in the intake's
     pipeline). Figures: API-process CPU per request and wall time per request.
2. 100k open cases written through the same script, then `GET /v1/cases` pages (50) with
   no filter, one filter, two filters, `order=urgent`, and a cursor deep in the list:
   p50 / p99 wall time per request, one request at a time.

    .venv/bin/python bench/feedback_cases.py            # -n 3000 requests per round
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._asgi import call  # noqa: E402
from bench._redis import start_redis  # noqa: E402

CONCURRENCY = 16
CUSTOMERS = 10_000
TOUCHPOINTS = ("delivery", "support", "checkout", "store")
TIERS = ("none", "bronze", "silver", "gold", "platinum")


def publish(url: str) -> None:
    """A small serving version whose profiles carry tier, RFM segment and spend."""
    import numpy as np

    from store.client import sync_client
    from store.config import StoreConfig
    from store.serving import ServingBundle, write_serving
    from store.versions import Versions

    rng = random.Random(1)
    items = [{"item_id": f"i{i}", "kind": "product", "title": f"Item {i}", "tags": []}
             for i in range(100)]  # fmt: skip
    profiles = [(f"c{n}", {"customer_id": f"c{n}", "loyalty_tier": rng.choice(TIERS),
                           "rfm_segment": rng.choice(("Champions", "Loyal", "At Risk", "Lost")),
                           "monetary": rng.uniform(0, 8000)})
                for n in range(CUSTOMERS)]  # fmt: skip
    ranked = (np.arange(100, dtype=np.uint32), np.linspace(1, 0, 100).astype(np.float32))
    bundle = ServingBundle(items=items, popular={"global": ranked}, customer_profiles=profiles)
    client = sync_client(url)
    Versions(client, StoreConfig(redis_url=url)).publish(
        "serving", lambda r: write_serving(r, bundle)
    )
    publish_model(client, StoreConfig(redis_url=url))


def publish_model(client: Any, config: Any) -> None:
    """An insights version with a sentiment model (full size: 2 x 2^18 weights) fitted on
    a few hundred made-up comments."""
    import numpy as np

    from insights.sentiment import fit_sentiment
    from insights.text import normalize_many
    from store.insights import publish_insights

    rng = random.Random(2)
    words = (["late", "rude", "broken", "never again"], ["quick", "kind", "great", "easy"])
    texts = [f"{rng.choice(words[label])} and {rng.choice(words[label])} {n}"
             for label in (0, 1) for n in range(200)]  # fmt: skip
    model = fit_sentiment(normalize_many(texts), np.repeat([0, 1], 200))
    publish_insights(client, config, {"summary": {}}, sentiment_model=model.to_bytes())


def switch_cases(on: bool, saved: dict[str, Any], *, scored: bool = False) -> None:
    """Off: the intake as on main (no planning, no follow-up writes). `scored`: comments
    are scored by the published sentiment model (else as if none were published)."""
    import api.services.cases as cases
    import api.services.intake as intake

    if not saved:
        saved.update(plan=intake.append_planning_cases, queue=intake.queue_follow_up,
                     model=cases.live_sentiment_model)  # fmt: skip

    async def no_model(_state: Any) -> None:
        return None

    cases.live_sentiment_model = saved["model"] if scored else no_model  # type: ignore[assignment]

    async def append_only(_state: Any, append: Any, _answers: Any) -> tuple[Any, list[Any]]:
        return await append, []

    intake.append_planning_cases = saved["plan"] if on else append_only  # type: ignore[assignment]
    intake.queue_follow_up = saved["queue"] if on else (lambda *_: None)  # type: ignore[assignment]


async def post_round(app: Any, mode: str, n: int, counter: list[int]) -> tuple[float, float]:
    import orjson

    rng = random.Random(counter[0])
    bodies = []
    for _ in range(n):
        counter[0] += 1
        bodies.append(orjson.dumps({
            "response_id": f"r{counter[0]}", "customer_id": f"c{rng.randrange(CUSTOMERS)}",
            "survey": "nps", "score": 3 if mode == "unhappy" else 9,
            "comment": "late again" if mode == "unhappy" else "quick and kind",
            "touchpoint": rng.choice(TOUCHPOINTS), "channel": "web",
        }))  # fmt: skip

    async def worker(part: list[bytes]) -> None:
        for body in part:
            if await call(app, "POST", "/v1/feedback", body=body) != 202:
                raise RuntimeError("feedback refused")

    wall, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(bodies[i::CONCURRENCY]) for i in range(CONCURRENCY)))
    return (time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6


def fill_cases(url: str, count: int) -> None:
    """`count` open cases through the case store's own script (not the API: faster)."""
    from datetime import UTC, datetime, timedelta

    from insights.followup import plan_case
    from insights.followup_config import load_case_config
    from store.cases import queue_open_case
    from store.client import sync_client
    from store.keys import Keys

    config, keys, client = load_case_config(ROOT / "rules"), Keys(), sync_client(url)
    rng = random.Random(2)
    now = datetime.now(UTC)
    pipe = client.pipeline(transaction=False)
    for n in range(count):
        answer = {"customer_id": f"k{n}", "survey": rng.choice(("nps", "csat", "ces")),
                  "score": 1, "touchpoint": rng.choice((*TOUCHPOINTS, "returns", "app")),
                  "response_id": f"x{n}"}  # fmt: skip
        profile = {"loyalty_tier": rng.choice(TIERS), "monetary": rng.uniform(0, 8000)}
        case = plan_case(answer, profile, config, now=now - timedelta(seconds=count - n))
        assert case is not None
        queue_open_case(pipe, keys, case, now_iso=case["created_at"])
        if n % 1000 == 999:
            pipe.execute()
    pipe.execute()


async def list_latency(app: Any, query: bytes, n: int) -> tuple[float, float]:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        if await call(app, "GET", "/v1/cases", query) != 200:
            raise RuntimeError(f"GET /v1/cases?{query.decode()} failed")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


async def deep_cursor(app: Any, pages: int) -> bytes:
    """A query for the page after `pages` pages of 200 of the unfiltered newest-first list."""
    import orjson

    query = b"limit=200"
    for _ in range(pages):
        body: list[bytes] = []
        await call(app, "GET", "/v1/cases", query, out=body)
        cursor = orjson.loads(b"".join(body))["next_cursor"]
        query = f"limit=200&cursor={cursor}".encode()
    return f"limit=50&cursor={cursor}".encode()


async def run(url: str, n: int, rounds: int, cases: int, samples: int) -> None:
    from api.app import create_app
    from store.client import sync_client

    app = create_app()
    saved: dict[str, Any] = {}
    counter = [0]
    async with app.router.lifespan_context(app):
        modes = ("before", "happy", "scored", "unhappy")
        for mode in modes:  # warm-up: caches, scripts, connections, the model
            switch_cases(mode != "before", saved, scored=mode == "scored")
            await post_round(app, mode, 300, counter)
        results: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
        for _ in range(rounds):
            for mode in results:
                switch_cases(mode != "before", saved, scored=mode == "scored")
                results[mode].append(await post_round(app, mode, n, counter))
        switch_cases(True, saved)
        print(f"POST /v1/feedback, {rounds} alternating rounds of {n}, {CONCURRENCY} in flight")
        base_cpu = sorted(c for c, _ in results["before"])[rounds // 2]
        base_wall = sorted(w for _, w in results["before"])[rounds // 2]
        for mode, figures in results.items():
            cpu = sorted(c for c, _ in figures)[rounds // 2]
            wall = sorted(w for _, w in figures)[rounds // 2]
            print(
                f"  {mode:8} {cpu:6.0f} us CPU/request ({cpu / base_cpu:.2f}x)   "
                f"{wall:6.0f} us wall/request ({wall / base_wall:.2f}x)   (median of rounds)"
            )
        if not cases:
            return
        start = time.perf_counter()
        fill_cases(url, cases)
        print(f"{cases} open cases written in {time.perf_counter() - start:.1f} s")
        queries = [b"limit=50", b"limit=50&status=open", b"limit=50&queue=delivery",
                   b"limit=50&queue=support&priority=p1", b"limit=50&touchpoint=app&status=open",
                   b"limit=50&order=urgent", b"limit=50&order=urgent&queue=store&priority=p2",
                   await deep_cursor(app, min(100, cases // 400))]  # fmt: skip
        print(
            f"GET /v1/cases over {cases + counter[0] // 4:.0f}+ cases, {samples} requests each"
            " (wall in the API process; Redis: the listing script's own time, INFO)"
        )
        worst = 0.0
        server = sync_client(url)
        for query in queries:
            server.config_resetstat()
            p50, p99 = await list_latency(app, query, samples)
            stats = server.info("commandstats").get("cmdstat_eval", {})
            worst = max(worst, p99)
            shown = query.decode() if b"cursor" not in query else "limit=50&cursor=<deep page>"
            print(
                f"  {shown:48} p50 {p50:5.1f} ms   p99 {p99:5.1f} ms   "
                f"Redis {stats.get('usec_per_call', 0) / 1000:4.1f} ms/call"
            )
        print(f"worst p99 {worst:.1f} ms (goal 50 ms)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=3000, help="POSTs per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=300, help="GETs per listing query")
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tp-bench-cases-"))
    process, url = start_redis(home, aof=True)
    os.environ["TOUCHPOINT_REDIS_URL"] = url
    os.environ["TOUCHPOINT_DATA_DIR"] = str(home / "data")
    os.environ.setdefault("TOUCHPOINT_BUSINESS_RULES_DIR", str(ROOT / "rules"))
    try:
        publish(url)
        import uvloop

        uvloop.install()
        asyncio.run(run(url, args.n, args.rounds, args.cases, args.samples))
    finally:
        process.terminate()
        process.wait()
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
