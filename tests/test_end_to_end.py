"""End to end, as a user runs it: generate → touchpoint run → touchpoint serve → HTTP.

Everything crosses real process boundaries: the CLI in subprocesses, a real uvicorn
server on a free port, and the test session's real redis-server.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from contracts.tables import load_tables

TOUCHPOINT = [sys.executable, "-c", "from jobs.cli import main; main()"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def served(redis_server, tmp_path_factory) -> Iterator[tuple[str, Path]]:
    data = tmp_path_factory.mktemp("e2e") / "data"
    env = {**os.environ, "TOUCHPOINT_REDIS_URL": redis_server.url, "TOUCHPOINT_DATA_DIR": str(data)}
    import redis

    redis.Redis.from_url(redis_server.url).flushall()
    gen = ["generate", "--customers", "800", "--items", "150", "--seed", "5", "--out", str(data)]
    subprocess.run([*TOUCHPOINT, *gen], check=True, env=env, capture_output=True)
    run = subprocess.run(
        [*TOUCHPOINT, "run", "--data", str(data), "--budget-seconds", "20", "--json"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    port = free_port()
    server = subprocess.Popen(
        [*TOUCHPOINT, "serve", "--data", str(data), "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("API did not become ready")
        yield base, data
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_recommendations_favour_each_customers_favourite_category(served):
    base, data = served
    tables = load_tables(data)
    items = tables["items"].set_index("item_id")
    products = items[items["kind"] == "product"]
    buys = tables["events"][tables["events"]["type"] == "purchase"]
    buys = buys[buys["item_id"].isin(products.index)]
    buys = buys.assign(category=products.loc[buys["item_id"], "category"].astype(str).to_numpy())
    per_customer = buys.groupby("customer_id")["category"].agg(lambda s: s.value_counts().index[0])
    counts = buys.groupby("customer_id").size()
    regulars = per_customer[counts >= 4].index[:60]
    share = products["category"].astype(str).value_counts(normalize=True)
    hits = chance = 0.0
    with httpx.Client(base_url=base, timeout=10) as http:
        for cid in regulars:
            body = http.get(f"/v1/customers/{cid}/recommendations", params={"k": 10}).json()
            favourite = per_customer[cid]
            got = [i["category"] for i in body["items"]]
            assert len(got) == 10
            hits += sum(c == favourite for c in got)
            chance += share[favourite] * len(got)
    assert len(regulars) >= 30
    assert hits > 1.5 * chance, (hits, chance)


def test_unknown_customer_gets_popular_items(served):
    base, _ = served
    body = httpx.get(f"{base}/v1/customers/never-seen/recommendations", params={"k": 5}).json()
    assert len(body["items"]) == 5
    assert body["model_version"] is not None


@pytest.mark.parametrize("channel", ["web", "email"])
def test_the_batch_serves_each_customer_what_the_api_answers(served, tmp_path, channel):
    """`touchpoint recommend` and `GET …/recommendations` rank through one path: the same
    published lists, rules and exclusions give every customer the same list."""
    base, data = served
    tables = load_tables(data)
    customers = sorted(set(tables["events"]["customer_id"].astype(str)))[200:240]
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join([*customers, "nobody-at-all"]) + "\n")
    out = tmp_path / "recs.csv"
    env = {**os.environ, "TOUCHPOINT_DATA_DIR": str(data)}
    done = subprocess.run(
        [*TOUCHPOINT, "recommend", "--data", str(data), "--customers", str(ids), "--k", "8",
         "--channel", channel, "--output", str(out)],
        env=env, capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    import pandas as pd

    batch = pd.read_csv(out, dtype={"customer_id": str, "item_id": str})
    lists = batch.sort_values(["customer_id", "rank"]).groupby("customer_id")["item_id"]
    offline = {cid: list(items) for cid, items in lists}
    consumed = tables["events"][tables["events"]["type"].isin(["purchase", "redeem", "rate"])]
    had = consumed.groupby(consumed["customer_id"].astype(str))["item_id"].agg(set)
    served_any = False
    with httpx.Client(base_url=base, timeout=10) as http:
        for cid in [*customers, "nobody-at-all"]:
            body = http.get(
                f"/v1/customers/{cid}/recommendations", params={"k": 8, "channel": channel}
            ).json()
            online = [item["item_id"] for item in body["items"]]
            assert offline.get(cid, []) == online, cid
            assert not set(online) & set(had.get(cid, ()))
            served_any = served_any or bool(online)
    assert served_any


def test_touchpoint_run_publishes_insights_read_by_the_api(served):
    base, _data = served
    journey = httpx.get(f"{base}/v1/insights/journey", timeout=10).json()
    assert journey["version"] is not None, journey
    assert [s["stage"] for s in journey["batch"]["stages"]] == journey["stages"]
    scores = httpx.get(f"{base}/v1/insights/scores?metric=csat&by=stage", timeout=10).json()
    assert {r["stage"] for r in scores["rows"]} <= set(journey["stages"]) | {""}
