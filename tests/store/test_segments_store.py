"""The segments artifact against a real Redis: chunked members, deltas, size history."""

from __future__ import annotations

import asyncio

import redis
import redis.asyncio as aioredis

from store.config import StoreConfig
from store.keys import Keys
from store.segments import CHUNK, SegmentReader, SegmentRelease, publish_segments, read_live_members
from store.versions import Versions


def _release(
    members: dict[str, list[str]],
    previous: str | None = None,
    deltas: dict[str, tuple[list[str], list[str]]] | None = None,
) -> SegmentRelease:
    catalogue = [{"name": n, "family": "rule", "title": n, "description": "", "rule": "",
                  "size": len(ids)} for n, ids in members.items()]  # fmt: skip
    per_customer: dict[str, list[str]] = {}
    for name, ids in members.items():
        for cid in ids:
            per_customer.setdefault(cid, []).append(name)
    return SegmentRelease(
        catalogue=catalogue,
        members=members,
        customer_segments=[(c, ";".join(n)) for c, n in per_customer.items()],
        deltas=deltas or {},
        previous=previous,
        meta={"as_of": "2024-01-01T00:00:00+00:00"},
    )


def test_pages_across_chunk_boundaries_and_streams_everything(
    redis_client: redis.Redis, store_config: StoreConfig
) -> None:
    big = [f"c{i:06d}" for i in range(CHUNK * 2 + 17)]
    version = publish_segments(redis_client, store_config, _release({"big": big, "empty": []}))

    async def read() -> tuple[list[str], list[str] | None, list[str], list[str] | None, list[str]]:
        client = aioredis.Redis.from_url(store_config.redis_url or "")
        reader = SegmentReader(client, Keys(store_config.namespace))
        page = await reader.page(version, "big", CHUNK - 3, 10)
        tail = await reader.page(version, "big", CHUNK * 2 + 10, 100)
        everything = await reader.all_members(version, "big", len(big))
        mine = await reader.customer_segments(version, "c000005")
        empty = await reader.all_members(version, "empty", 0)
        await client.aclose()
        assert tail is not None
        return page or [], mine, everything, tail, empty

    page, mine, everything, tail, empty = asyncio.run(read())
    assert page == big[CHUNK - 3 : CHUNK + 7]
    assert tail == big[CHUNK * 2 + 10 :]
    assert everything == big and empty == []
    assert mine == ["big"]


def test_live_members_sizes_history_and_deltas(
    redis_client: redis.Redis, store_config: StoreConfig
) -> None:
    assert read_live_members(redis_client, store_config) == (None, {})
    first = publish_segments(redis_client, store_config, _release({"vip": ["a", "b"]}))
    previous, members = read_live_members(redis_client, store_config)
    assert previous == first and members == {"vip": ["a", "b"]}
    second = publish_segments(
        redis_client, store_config,
        _release({"vip": ["b", "c"]}, previous=first, deltas={"vip": (["c"], ["a"])}),
    )  # fmt: skip
    assert Versions(redis_client, store_config).live("segments") == second

    async def read() -> tuple[object, object, list[dict[str, object]]]:
        client = aioredis.Redis.from_url(store_config.redis_url or "")
        reader = SegmentReader(client, Keys(store_config.namespace))
        out = (await reader.delta(second, "vip"), await reader.delta(first, "vip"),
               await reader.size_history())  # fmt: skip
        await client.aclose()
        return out

    delta, none, history = asyncio.run(read())
    assert delta == (["c"], ["a"]) and none is None
    assert [h["version"] for h in history] == [second, first]
    assert [h["sizes"] for h in history] == [{"vip": 2}, {"vip": 2}]
