"""Publishing and the hot connection against a real three-primary Redis Cluster."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from store.client import connect
from store.cluster import parse_cluster_url
from store.config import StoreConfig
from store.keys import Keys
from store.resp_cluster import ClusterRespConnection, command_slot
from store.serving import ARTIFACT, ServingBundle, write_serving
from store.versions import VersionError, Versions

KEYS = Keys()


def test_cluster_url_names_every_seed_node_and_the_credentials():
    address = parse_cluster_url("redis+cluster://app:s%40cret@10.0.0.1:7000,10.0.0.2,node3:7002")
    assert address.nodes == (("10.0.0.1", 7000), ("10.0.0.2", 6379), ("node3", 7002))
    assert (address.username, address.password) == ("app", "s@cret")
    assert parse_cluster_url("redis+cluster://h:1").password is None


def test_the_setting_accepts_the_cluster_form_and_still_refuses_others():
    assert StoreConfig(redis_url="redis+cluster://h:1,h:2").redis_url == "redis+cluster://h:1,h:2"
    with pytest.raises(ValueError):
        StoreConfig(redis_url="cluster://h:1")


def test_a_scripts_slot_is_its_first_keys_and_script_load_goes_everywhere():
    key = KEYS.customer("c9", "recent")
    assert command_slot(("EVALSHA", "abc", 2, key, KEYS.customer("c9", "x"), 1)) == command_slot(
        ("GET", KEYS.customer("c9", "other"))
    )
    assert command_slot(("SCRIPT", "LOAD", "return 1")) < 0


def bundle(customers: int, first: int) -> ServingBundle:
    items = [{"item_id": f"i{i}", "kind": "product"} for i in range(10)]
    order = np.arange(10, dtype=np.uint32)
    recs = [
        (f"c{n}", (np.array([(first + n) % 10], np.uint32), np.ones(1, np.float32)))
        for n in range(customers)
    ]
    return ServingBundle(
        items=items, popular={"global": (order, np.ones(10, np.float32))}, customer_recs=recs
    )


def test_publish_spreads_customers_over_every_primary_and_switches_atomically(
    redis_cluster, cluster_config
):
    with connect(cluster_config) as client:
        versions = Versions(client, cluster_config)
        first = versions.publish(ARTIFACT, lambda r: write_serving(r, bundle(60, 0)))
        second = versions.publish(ARTIFACT, lambda r: write_serving(r, bundle(60, 5)))
        assert versions.live(ARTIFACT) == second
        recs = client.get(KEYS.customer_data(ARTIFACT, second, "c1", "recs"))
        assert recs is not None
        per_node = redis_cluster.keys_per_node()
        assert sum(1 for n in per_node.values() if n > 0) == len(per_node)  # every primary
        assert versions.rollback(ARTIFACT) == first
        assert versions.live(ARTIFACT) == first
        assert [m["version"] for m in versions.history(ARTIFACT)] == [first, second]
        # SCAN over every primary found each version's keys: all of them got a TTL
        primaries = redis_cluster.primaries()
        data = [k for p in primaries for k in redis_cluster.node(p).keys("tp:serving:*")]
        assert len(data) > 120
        assert all(redis_cluster.node_for(k).ttl(k) > 0 for k in data)


def test_an_incomplete_version_cannot_go_live_on_a_cluster(cluster_config):
    with connect(cluster_config) as client:
        versions = Versions(client, cluster_config)
        live = versions.publish(ARTIFACT, lambda r: write_serving(r, bundle(5, 0)))

        def broken(release):
            write_serving(release, bundle(5, 1))
            raise RuntimeError("the batch died half-way")

        with pytest.raises(RuntimeError):
            versions.publish(ARTIFACT, broken)
        assert versions.live(ARTIFACT) == live
        with pytest.raises(VersionError):
            versions.activate(ARTIFACT, "20260101T000000Z-000000")


def test_hot_connection_routes_by_slot_and_follows_moved_replies(redis_cluster, cluster_url):
    customers = [f"c{n}" for n in range(40)]

    async def run() -> tuple[list, list]:
        conn = ClusterRespConnection(cluster_url, timeout=2.0)
        try:
            writes = [("SET", KEYS.customer(c, "x"), c) for c in customers]
            assert all(r == b"OK" for r in await conn.execute_many(writes))
            reads = [("GET", KEYS.customer(c, "x")) for c in customers]
            first = await conn.execute_many(reads)
            # a stale map (every slot on one primary): MOVED replies re-read it
            conn.owners = [conn.owners[0]] * len(conn.owners)
            again = await conn.submit(reads)
            return first, again
        finally:
            conn.close()

    first, again = asyncio.run(run())
    assert first == again == [c.encode() for c in customers]
    assert sum(1 for n in redis_cluster.keys_per_node().values() if n > 0) > 1


def test_a_map_forgotten_while_a_call_waits_fails_it_as_a_connection_error(cluster_url):
    """A node's failure empties the slot map; a call routed after that is a connection error
    (the caller answers degraded), never another exception."""

    async def run() -> None:
        conn = ClusterRespConnection(cluster_url, timeout=2.0)
        try:
            await conn.execute_many([("SET", KEYS.customer("c1", "x"), "1")])
            conn.owners = conn.primaries = []  # as `_gather` does when a node went away
            with pytest.raises(RedisConnectionError):
                conn._send([("GET", KEYS.customer("c1", "x"))])
            assert await conn.execute_many([("GET", KEYS.customer("c1", "x"))]) == [b"1"]
        finally:
            conn.close()

    asyncio.run(run())
