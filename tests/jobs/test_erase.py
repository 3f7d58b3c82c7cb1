"""The right to erasure, end to end against a real Redis and a real data directory.

A generated data set is segmented, trained and published (`touchpoint run`); the API serves
the customer, takes their events, an unhappy answer (a follow-up case) and an export; the
streams are ingested and a campaign export is written into the data directory. After
`touchpoint erase`, every Redis key (read by type) and every file of the data directory
(read by format) is searched for the id: nothing. Tombstones hold a keyed hash, never the id,
so the search covers them too.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pyarrow.parquet as pq
import pytest
import redis
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.settings import ApiSettings
from contracts.tables import load_table
from jobs.cli import build_app
from store.audit import read
from store.keys import Keys

KEYS = Keys()
REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


def cli(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(build_app(), list(args))
    assert result.exit_code == code, result.output
    return result.output


def pattern(customer_id: str) -> re.Pattern[bytes]:
    """The id as a whole token (C000012 is not found inside C0000123)."""
    return re.compile(rb"(?<![A-Za-z0-9_\-])" + re.escape(customer_id.encode()) + rb"(?![0-9])")


def redis_values(client: redis.Redis) -> dict[bytes, list[bytes]]:
    """Every key with everything it holds, read by type."""
    out: dict[bytes, list[bytes]] = {}
    for key in client.scan_iter(count=1000):
        kind = client.type(key).decode()
        if kind == "string":
            parts = [client.get(key)]
        elif kind == "hash":
            parts = [x for kv in client.hgetall(key).items() for x in kv]
        elif kind == "list":
            parts = client.lrange(key, 0, -1)
        elif kind == "set":
            parts = list(client.smembers(key))
        elif kind == "zset":
            parts = [m for m, _ in client.zrange(key, 0, -1, withscores=True)]
        elif kind == "stream":
            parts = [x for _, f in client.xrange(key) for kv in f.items() for x in kv]
        else:
            raise AssertionError(f"unexpected key type {kind} of {key!r}")
        out[key] = [p for p in parts if p is not None]
    return out


def found_in_redis(client: redis.Redis, customer_id: str) -> list[str]:
    token = pattern(customer_id)
    return [k.decode("utf-8", "replace") for k, parts in redis_values(client).items()
            if token.search(k) or any(token.search(p) for p in parts)]  # fmt: skip


def file_text(path: Path) -> bytes:
    """What a file holds, decoded by format (Parquet is compressed: read its values)."""
    if path.suffix == ".parquet":
        return orjson.dumps(pq.read_table(path).to_pylist(), default=str)
    if path.suffix == ".npz":
        with np.load(path, allow_pickle=False) as npz:
            return b"\n".join(str(npz[k].tolist()).encode() for k in npz.files)
    return path.read_bytes()


def found_in_files(data: Path, customer_id: str) -> list[str]:
    token = pattern(customer_id)
    return [str(p) for p in sorted(data.rglob("*")) if p.is_file() and token.search(file_text(p))]


@pytest.fixture(scope="module")
def published(redis_server, tmp_path_factory) -> dict[str, Any]:
    """A generated data set after `touchpoint run` (segment, train, publish), once per module:
    the data directory and every Redis key as DUMP (restored before each test)."""
    home = tmp_path_factory.mktemp("erase")
    data = home / "data"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TOUCHPOINT_REDIS_URL", redis_server.url)
        patch.delenv("TOUCHPOINT_ERASURE_KEY", raising=False)
        client = redis.Redis.from_url(redis_server.url)
        client.flushall()
        cli("generate", "--customers", "150", "--items", "40", "--seed", "5", "--out", str(data))
        cli("run", "--data", str(data))
        dumps = {k: (client.dump(k), client.pttl(k)) for k in client.scan_iter(count=1000)}
        client.close()
    busiest = pd.read_parquet(data / "events.parquet")["customer_id"].value_counts().index
    return {"data": data, "dumps": dumps, "victim": str(busiest[0]),
            "bystander": str(busiest[1])}  # fmt: skip


@pytest.fixture
def world(published, tmp_path, redis_url, redis_client, monkeypatch) -> dict[str, Any]:
    rules = tmp_path / "rules"
    rules.mkdir()
    shutil.copy(REPO_RULES / "cases.yaml", rules / "cases.yaml")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    monkeypatch.delenv("TOUCHPOINT_ERASURE_KEY", raising=False)
    data = tmp_path / "data"
    shutil.copytree(published["data"], data)
    for key, (dumped, ttl) in published["dumps"].items():
        redis_client.restore(key, max(ttl, 0), dumped)
    return {**published, "data": data,
            "settings": ApiSettings(data_dir=data, redis_url=redis_url)}  # fmt: skip


def touch_everything(api: TestClient, who: str, n: int) -> None:
    """A visitor's click merged into them at login, their consent, serving, their events and
    an unhappy answer (a follow-up case)."""
    visitor = f"visitor-{n}"
    shown = api.get(f"/v1/customers/{visitor}/recommendations?k=5").json()["items"][0]
    click = {"event_id": f"anon-{n}", "customer_id": visitor, "item_id": shown["item_id"],
             "type": "click"}  # fmt: skip
    assert api.post("/v1/events", json=click).json()["accepted"] == 1
    merge = {"anonymous_id": visitor, "customer_id": who}
    assert api.post("/v1/identities/merge", json=merge).status_code == 200
    assert api.put(f"/v1/customers/{who}/consent", json={"push": False}).status_code == 200
    served = api.get(f"/v1/customers/{who}/recommendations?k=5").json()
    item = served["items"][0]["item_id"]
    event = {"event_id": f"live-{n}", "customer_id": who, "item_id": item, "type": "click",
             "recommendation_id": served["recommendation_id"]}  # fmt: skip
    assert api.post("/v1/events", json=event).json()["accepted"] == 1
    answer = {"response_id": f"resp-{n}", "customer_id": who, "survey": "nps", "score": 1,
              "comment": "never again", "touchpoint": "support", "channel": "web"}  # fmt: skip
    assert api.post("/v1/feedback", json=answer).json()["accepted"] == 1


def test_erase_leaves_no_trace_in_redis_or_the_data_directory(world, redis_client, tmp_path):
    data, victim, bystander = world["data"], world["victim"], world["bystander"]
    with TestClient(create_app(world["settings"])) as api:
        for n, who in enumerate((victim, bystander)):
            touch_everything(api, who, n)
        assert api.get(f"/v1/customers/{victim}/export").json()["cases"]
    cli("ingest", "--data", str(data))
    ids = tmp_path / "campaign.txt"
    ids.write_text(f"{victim}\n{bystander}\n")
    (data / "exports").mkdir()
    cli("recommend", "--data", str(data), "--customers", str(ids),
        "--output", str(data / "exports" / "campaign.csv"))  # fmt: skip
    assert found_in_redis(redis_client, victim) and found_in_files(data, victim)

    cli("erase", "--customer", victim, "--data", str(data))

    assert found_in_redis(redis_client, victim) == []
    assert found_in_files(data, victim) == []
    assert found_in_redis(redis_client, "visitor-0") == []  # merged into them: the same person
    assert found_in_redis(redis_client, "visitor-1")  # the bystander's visitor stays
    assert found_in_redis(redis_client, bystander) and found_in_files(data, bystander)
    ids.write_text(f"{bystander}\n")  # the rewritten model still loads and serves the others
    cli("recommend", "--data", str(data), "--customers", str(ids),
        "--output", str(tmp_path / "again.csv"))  # fmt: skip
    assert bystander in (tmp_path / "again.csv").read_text()
    entries = [e for e in read(redis_client, KEYS) if e["action"] == "customers.erase"]
    assert len(entries) == 2  # the customer and the visitor merged into them
    assert all(e["target"] in (data / "tombstones.csv").read_text() for e in entries)


def test_nothing_brings_an_erased_customer_back(world, redis_client, tmp_path):
    data, victim, bystander = world["data"], world["victim"], world["bystander"]
    cli("erase", "--customer", victim, "--data", str(data))
    campaign = tmp_path / "campaign.txt"
    campaign.write_text(f"{victim}\n{bystander}\n")
    cli("recommend", "--data", str(data), "--customers", str(campaign),
        "--output", str(tmp_path / "out.csv"))  # fmt: skip
    assert set(pd.read_csv(tmp_path / "out.csv")["customer_id"]) == {bystander}
    with TestClient(create_app(world["settings"])) as api:
        event = {"event_id": "after-1", "customer_id": victim, "item_id": "P00001",
                 "type": "purchase"}  # fmt: skip
        assert api.post("/v1/events", json=event).json() == {
            "accepted": 0, "duplicates": 0, "duplicate_ids": [], "erased": 1,
        }  # fmt: skip
        answered = api.get(f"/v1/customers/{victim}/profile").json()
        assert answered["known"] is False
        assert api.get(f"/v1/customers/{victim}/export").status_code == 404
    # a backup holding them is restored: loaders drop them, so no batch publishes them
    backup = pd.read_parquet(data / "events.parquet").head(3)
    backup = backup.assign(customer_id=victim, event_id=["old-1", "old-2", "old-3"])
    (data / "events").mkdir(exist_ok=True)
    backup.to_parquet(data / "events" / "restored.parquet", index=False)
    assert victim not in set(load_table(data, "events")["customer_id"])
    before = redis_client.get(KEYS.live("segments"))
    cli("segment", "--data", str(data))
    cli("ingest", "--data", str(data))
    assert redis_client.get(KEYS.live("segments")) != before  # a new version went live
    assert found_in_redis(redis_client, victim) == []


def test_an_api_erasure_reaches_the_data_directory_at_the_next_ingest(world, redis_client):
    data, victim = world["data"], world["victim"]
    with TestClient(create_app(world["settings"])) as api:
        touch_everything(api, victim, 0)
        gone = api.delete(f"/v1/customers/{victim}")
        assert gone.status_code == 200 and gone.json()["removed"]["keys"] > 0
        audited = [e for e in read(redis_client, KEYS) if e["action"] == "customers.erase"]
        assert [(e["target"], e["who"]) for e in audited] == [
            (gone.json()["tombstone"], "anonymous")
        ]
        assert api.get(f"/v1/customers/{victim}/export").status_code == 404
    assert found_in_redis(redis_client, victim) == []
    assert found_in_files(data, victim)  # the API does not rewrite the data directory
    cli("ingest", "--data", str(data))
    assert found_in_files(data, victim) == []


def test_export_holds_what_is_kept_about_the_customer(world):
    victim = world["victim"]
    with TestClient(create_app(world["settings"])) as api:
        touch_everything(api, victim, 0)
        document = api.get(f"/v1/customers/{victim}/export").json()
        missing = api.get("/v1/customers/nobody-at-all/export")
    assert document["customer_id"] == victim
    assert document["profile"]["customer_id"] == victim
    assert document["recommendations"] and document["segments"]
    assert [e["type"] for e in document["recent_events"]] == ["click", "click"]  # + visitor's
    assert document["other"]["consent"]["push"] == "0"  # live consent, set in touch_everything
    assert "merged:visitor-0" in document["other"]
    assert document["feedback"]["nps"]["score"] == 1
    (case,) = document["cases"]
    assert case["customer_id"] == victim and case["touchpoint"] == "support"
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_a_bad_id_file_exits_2_with_its_line(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    ids = tmp_path / "ids.txt"
    ids.write_text("C000001\n\nC0{02}\n")
    output = " ".join(cli("erase", "--file", str(ids), "--data", str(tmp_path), code=2).split())
    assert "ids.txt, row 3, column 'customer_id'" in output
    assert not (tmp_path / "tombstones.csv").exists()
