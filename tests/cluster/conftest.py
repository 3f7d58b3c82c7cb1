"""A real Redis Cluster for the tests: three primaries with a replica each on free local ports.

The session's cluster is `tests/conftest.py`'s `redis_cluster` (`tests.cluster.local`),
emptied before each test here, stopped and removed after the session. Skipped (not failed)
when `redis-cli` is missing: it assigns the slots.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from store.config import StoreConfig
from tests.cluster.local import LocalCluster


@pytest.fixture
def cluster_url(redis_cluster: LocalCluster) -> str:
    """The cluster's `redis+cluster://` URL, every primary emptied before the test."""
    redis_cluster.flush()
    return redis_cluster.url


@pytest.fixture
def cluster_config(cluster_url: str, tmp_path: Path) -> StoreConfig:
    return StoreConfig(data_dir=tmp_path / "data", redis_url=cluster_url)
