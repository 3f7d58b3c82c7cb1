"""Cost of `GET /v1/customers/{id}/survey` beside `GET /v1/customers/{id}/profile`, in the
same run: the ASGI app called directly (no HTTP), 16 requests in flight, a throwaway
redis-server, the small published catalogue of the API tests.

    python bench/survey_speed.py [-n 4000]

Three figures, each the wall time per request: the profile (one script call); a survey
that asks (read pipeline + the compare-and-set record: two round trips); a survey refused
by the quiet period (the same customers again: one round trip).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api.app import create_app
from api.settings import ApiSettings
from bench._asgi import call as asgi_call
from bench._redis import start_redis
from store.config import StoreConfig
from tests.api.personal_factories import bundle, catalogue, publish

CONCURRENCY = 16


async def call(app: Any, path: str, query: bytes) -> bytes:
    body: list[bytes] = []
    status = await asgi_call(app, "GET", path, query, out=body)
    if status != 200:
        raise RuntimeError(f"{path} answered {status}: {b''.join(body)[:200]!r}")
    return b"".join(body)


async def timed(app: Any, requests: list[tuple[str, bytes]]) -> float:
    """Wall microseconds per request, CONCURRENCY in flight."""

    async def worker(part: list[tuple[str, bytes]]) -> None:
        for path, query in part:
            await call(app, path, query)

    started = time.perf_counter()
    await asyncio.gather(*(worker(requests[i::CONCURRENCY]) for i in range(CONCURRENCY)))
    return 1e6 * (time.perf_counter() - started) / len(requests)


async def run(url: str, home: Path, n: int) -> dict[str, float]:
    config = StoreConfig(data_dir=home / "data", redis_url=url)
    client = redis.Redis.from_url(url)
    publish(client, config, bundle(catalogue()))
    client.close()
    app = create_app(ApiSettings(data_dir=config.data_dir, redis_url=url))
    customers = [f"bench-{i}" for i in range(n)]
    survey = b"channel=web&touchpoint=support"
    async with app.router.lifespan_context(app):
        await timed(app, [("/v1/customers/warm/profile", b"")] * 200)
        figures = {
            "profile": await timed(app, [(f"/v1/customers/{c}/profile", b"") for c in customers]),
            "survey, asks": await timed(
                app, [(f"/v1/customers/{c}/survey", survey) for c in customers]
            ),
            "survey, quiet": await timed(
                app, [(f"/v1/customers/{c}/survey", survey) for c in customers]
            ),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=4000)
    args = parser.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tp-bench-survey-"))
    server, url = start_redis(home)
    try:
        figures = asyncio.run(run(url, home, args.n))
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(home, ignore_errors=True)
    base = figures["profile"]
    print(f"{args.n} customers, {CONCURRENCY} in flight, in-process ASGI, wall time a request")
    for name, micros in figures.items():
        print(f"{name:14s} {micros:7.0f} us  ({micros / base:.2f} of the profile)")


if __name__ == "__main__":
    main()
