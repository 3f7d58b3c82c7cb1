"""A real Redis Cluster for the tests: three primaries (no replicas) on free local ports.

Started once per test session (`tests.cluster.local`), emptied before each test, stopped and
removed after. Skipped (not failed) when `redis-cli` is missing: it assigns the slots.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from store.config import StoreConfig
from tests.cluster.local import LocalCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
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


@pytest.fixture
def cluster_url(redis_cluster: LocalCluster) -> str:
    """The cluster's `redis+cluster://` URL, every primary emptied before the test."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture
def cluster_config(cluster_url: str, tmp_path: Path) -> StoreConfig:
    return StoreConfig(data_dir=tmp_path / "data", redis_url=cluster_url)
