"""Opening Redis: the configured server, or the embedded one for the data directory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import redis
import redis.asyncio as aioredis

from store.cluster import async_cluster, is_cluster_url, sync_cluster
from store.config import StoreConfig
from store.embedded import EmbeddedRedis


class RedisEndpoint:
    """Resolves where Redis is and holds the embedded server (if any) while in use."""

    def __init__(self, config: StoreConfig) -> None:
        self.config = config
        self._embedded: EmbeddedRedis | None = None
        self.url: str | None = config.redis_url

    def open(self) -> str:
        if self.url is None:
            self._embedded = EmbeddedRedis(
                self.config.data_dir, appendfsync=self.config.redis_appendfsync
            )
            self.url = self._embedded.acquire()
        return self.url

    def close(self) -> None:
        if self._embedded is not None:
            self._embedded.release()
            self._embedded = None
            self.url = None


def sync_client(url: str, *, timeout: float = 30.0) -> redis.Redis:
    if is_cluster_url(url):  # redis+cluster://: slot-aware (`store.cluster`)
        return sync_cluster(url, timeout=timeout)
    return redis.Redis.from_url(url, socket_timeout=timeout, health_check_interval=30)


def async_client(url: str, *, timeout: float = 2.0, max_connections: int = 64) -> aioredis.Redis:
    # A short timeout: the API must fail fast to its degraded answer when Redis is gone.
    if is_cluster_url(url):  # redis+cluster://: slot-aware (`store.cluster`)
        return async_cluster(url, timeout=timeout, max_connections=max_connections)
    return aioredis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, max_connections=max_connections
    )


@contextlib.contextmanager
def connect(config: StoreConfig | None = None) -> Iterator[redis.Redis]:
    """A synchronous client for batch jobs and the CLI; stops an embedded server it started."""
    endpoint = RedisEndpoint(config or StoreConfig())
    client = sync_client(endpoint.open())
    try:
        yield client
    finally:
        client.close()
        endpoint.close()
