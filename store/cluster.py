"""Redis Cluster: the `redis+cluster://` URL form and redis-py's cluster clients.

`TOUCHPOINT_REDIS_URL=redis+cluster://[user:password@]host:port[,host:port…]` names one or
more nodes of a Redis Cluster (any of them: the clients discover the rest with
`CLUSTER SLOTS`). Batch jobs and the API's off-hot-path reads get redis-py's `RedisCluster`
(sync or asyncio), which routes every command and non-transactional pipeline by slot and
runs `SCAN` over every primary; the API's hot connection gets
`store.resp_cluster.ClusterRespConnection`. Keys that must change together share a hash tag
(`store.keys`), so every script names keys of one slot (the follow-up cases' scripts keep a
copy of the customer's open cases in the `{cases}` slot for it: `store.cases`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast
from urllib.parse import unquote, urlparse

import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import ClusterNode as AsyncClusterNode
from redis.asyncio.cluster import RedisCluster as AsyncRedisCluster
from redis.cluster import ClusterNode, RedisCluster

SCHEME = "redis+cluster"


@dataclass(frozen=True)
class ClusterAddress:
    """The seed nodes and credentials a `redis+cluster://` URL names."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def is_cluster_url(url: str | None) -> bool:
    return bool(url) and str(url).startswith(SCHEME + "://")


def parse_cluster_url(url: str) -> ClusterAddress:
    """`redis+cluster://[user:password@]h1:p1[,h2:p2…]` → its nodes (port 6379 when omitted)."""
    if not is_cluster_url(url):
        raise ValueError(f"not a {SCHEME}:// URL: {url!r}")
    rest = url[len(SCHEME) + 3 :].split("/", 1)[0]
    credentials, _, hosts = rest.rpartition("@")
    username = password = None
    if credentials:
        user, _, secret = credentials.partition(":")
        username, password = (unquote(user) or None), (unquote(secret) or None)
    nodes: list[tuple[str, int]] = []
    for part in hosts.split(","):
        parsed = urlparse(f"//{part.strip()}")
        if not parsed.hostname:
            raise ValueError(f"no host in {part!r} of the cluster URL")
        nodes.append((parsed.hostname, parsed.port or 6379))
    return ClusterAddress(tuple(nodes), username, password)


def sync_cluster(url: str, *, timeout: float) -> redis.Redis:
    """redis-py's `RedisCluster` (typed as `redis.Redis`: the store calls the commands both
    have; pipelines are non-transactional or single-slot)."""
    address = parse_cluster_url(url)
    client = RedisCluster(
        startup_nodes=[ClusterNode(h, p) for h, p in address.nodes],
        username=address.username,
        password=address.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
    )
    return cast(redis.Redis, client)


def async_cluster(url: str, *, timeout: float, max_connections: int) -> aioredis.Redis:
    """redis-py's asyncio `RedisCluster` (typed as `redis.asyncio.Redis`, see `sync_cluster`)."""
    address = parse_cluster_url(url)
    client = AsyncRedisCluster(
        startup_nodes=[AsyncClusterNode(h, p) for h, p in address.nodes],
        username=address.username,
        password=address.password,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=max_connections,
    )
    return cast(aioredis.Redis, client)


def is_cluster_client(client: object) -> bool:
    """Whether `client` is one of redis-py's cluster clients (sync or asyncio)."""
    return isinstance(client, RedisCluster | AsyncRedisCluster)
