"""Erasure's Redis side on its own, against a real Redis: segment lists stay pageable and
exact, streams forget entries without leaving them pending, ids never reach the tombstone."""

from __future__ import annotations

import asyncio

import orjson
import redis
import redis.asyncio as aioredis

from contracts.schema import INTAKE_TABLES
from contracts.tombstones import id_hash
from jobs.erase_files import erase_files, id_matcher
from jobs.ingest import drain
from store.config import StoreConfig
from store.erase import erase_customers, erasure_key
from store.events import EVENTS, StreamReader
from store.experiment_store import ExperimentKeys
from store.keys import Keys
from store.segments import ARTIFACT, CHUNK, SegmentReader, publish_segments, read_live_members
from tests.store.test_segments_store import _release

KEYS = Keys()


def test_segment_lists_lose_the_ids_and_page_exactly_in_every_kept_version(
    redis_client: redis.Redis, store_config: StoreConfig
) -> None:
    big = [f"c{i:06d}" for i in range(CHUNK * 2 + 17)]
    gone = {big[5], big[CHUNK + 1]}
    first = publish_segments(redis_client, store_config, _release({"big": big}))
    second = publish_segments(redis_client, store_config, _release(
        {"big": big, "vip": [big[5], "x1"]}, previous=first,
        deltas={"vip": ([big[5], "x1"], [big[CHUNK + 1]])},
    ))  # fmt: skip
    done = erase_customers(redis_client, KEYS, gone)
    assert done.segment_versions == 2
    kept = [c for c in big if c not in gone]
    _, members = read_live_members(redis_client, store_config)
    assert members == {"big": kept, "vip": ["x1"]}
    catalogue = orjson.loads(redis_client.get(KEYS.data(ARTIFACT, first, "catalogue")))
    assert catalogue[0]["size"] == len(kept)
    assert redis_client.ttl(KEYS.data(ARTIFACT, second, "m:big:0")) > 0  # its TTL is kept

    async def read() -> tuple[list[str] | None, list[str] | None, object]:
        client = aioredis.Redis.from_url(store_config.redis_url or "")
        reader = SegmentReader(client, KEYS)
        page = await reader.page(first, "big", CHUNK - 3, 10)
        mine = await reader.customer_segments(second, big[5])
        delta = await reader.delta(second, "vip")
        await client.aclose()
        return page, mine, delta

    page, mine, delta = asyncio.run(read())
    assert page == kept[CHUNK - 3 : CHUNK + 7]
    assert mine is None
    assert delta == (["x1"], [])


def test_stream_entries_go_and_are_not_left_pending(
    redis_client: redis.Redis, store_config: StoreConfig, tmp_path
) -> None:
    reader = StreamReader(redis_client, KEYS, EVENTS)
    reader.ensure_group()
    for n, who in enumerate(["gone", "stays", "gone"]):  # an item named like them: not them
        event = {"event_id": f"e{n}", "customer_id": who, "item_id": "gone", "type": "view",
                 "timestamp": "2026-01-01T00:00:00+00:00"}  # fmt: skip
        redis_client.xadd(KEYS.stream(EVENTS), {"d": orjson.dumps(event)})
    assert len(reader.read(10, pending=False)) == 3  # delivered, not yet acknowledged
    assert erase_customers(redis_client, KEYS, ["gone"]).stream_entries == 2
    result = drain(reader, tmp_path, INTAKE_TABLES[EVENTS])
    assert (result.written, result.lost) == (1, 0)


def test_the_tombstone_is_a_keyed_hash_not_the_id(redis_client: redis.Redis) -> None:
    redis_client.set(KEYS.customer("C42", "recent"), "x")
    rows = ExperimentKeys(KEYS)
    redis_client.hset(rows.definitions(), "exp1", "{}")
    redis_client.hset(rows.rows("exp1", "variant"), mapping={"C42": "b", "C43": "a"})
    redis_client.hset(KEYS.recommendation("r1", "served"), "customer", "C42")
    redis_client.hset(KEYS.recommendation("r2", "served"), "customer", "C43")
    done = erase_customers(redis_client, KEYS, ["C42"])
    key = erasure_key(redis_client, KEYS)
    assert done.keys == 1 and done.tombstones == [id_hash(key, "C42")]
    assert (done.global_fields, done.served) == (1, 1)
    assert redis_client.hgetall(rows.rows("exp1", "variant")) == {b"C43": b"a"}
    assert redis_client.exists(KEYS.recommendation("r2", "served"))
    stones = redis_client.hgetall(KEYS.tombstones())
    assert list(stones) == [id_hash(key, "C42").encode()]
    assert id_hash(b"another key", "C42") not in done.tombstones


def test_files_lose_the_customers_rows_not_an_item_named_like_them(tmp_path) -> None:
    (tmp_path / "exports").mkdir()
    rows = "customer_id,item_id\ngone,i1\nstays,gone\n"
    (tmp_path / "exports" / "campaign.csv").write_text(rows)
    (tmp_path / "doc.json").write_text('{"rows": [{"customer": "gone"}, {"item_id": "gone"}]}')
    done = erase_files(tmp_path, id_matcher(["gone"]))
    assert done.removed == 2
    assert (
        tmp_path / "exports" / "campaign.csv"
    ).read_text() == "customer_id,item_id\nstays,gone\n"
    assert orjson.loads((tmp_path / "doc.json").read_text()) == {"rows": [{"item_id": "gone"}]}
