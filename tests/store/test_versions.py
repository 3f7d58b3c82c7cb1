"""Contract tests of versioned publishing against a real redis-server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import redis

from store.codec import unpack_ranked
from store.config import StoreConfig
from store.serving import ARTIFACT, ServingBundle, write_serving
from store.versions import Release, VersionError, Versions


def write_n(n: int, tag: str):
    def write(release: Release) -> None:
        for i in range(n):
            release.set(release.customer_key(f"c{i}", "recs"), f"{tag}-{i}")

    return write


def test_publish_makes_the_new_version_live_with_all_its_data(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    version = versions.publish("recs", write_n(50, "a"), meta={"rows": 50})
    assert versions.live("recs") == version
    key = versions.keys.customer_data("recs", version, "c49", "recs")
    assert redis_client.get(key) == b"a-49"
    meta = versions.meta("recs", version)
    assert meta is not None and meta["status"] == "complete" and meta["rows"] == 50


def test_version_data_carries_a_ttl(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    version = versions.publish("recs", write_n(3, "a"))
    ttl = redis_client.ttl(versions.keys.customer_data("recs", version, "c0", "recs"))
    assert 0 < ttl <= store_config.version_ttl_seconds


def test_failed_write_leaves_previous_version_live(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    first = versions.publish("recs", write_n(10, "a"))

    def broken(release: Release) -> None:
        write_n(10, "b")(release)
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        versions.publish("recs", broken)
    assert versions.live("recs") == first
    assert [m["version"] for m in versions.history("recs")] == [first]


def test_killed_publisher_leaves_previous_version_serving(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    first = versions.publish("recs", write_n(20, "old"))
    script = textwrap.dedent(
        f"""
        import os, signal, redis
        from store.config import StoreConfig
        from store.versions import Versions
        client = redis.Redis.from_url({store_config.redis_url!r})
        def write(release):
            for i in range(20000):
                release.set(release.customer_key(f"c{{i}}", "recs"), b"new")
                if release.written == 9000:
                    release.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
        Versions(client, StoreConfig(redis_url={store_config.redis_url!r})).publish("recs", write)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], check=False, env=dict(os.environ))
    assert proc.returncode == -signal.SIGKILL
    # The half-written version exists in Redis, yet nobody sees it.
    assert len(list(redis_client.scan_iter("tp:recs:*", count=5000))) > 20
    assert versions.live("recs") == first
    key = versions.keys.customer_data("recs", first, "c7", "recs")
    assert redis_client.get(key) == b"old-7"


def test_rollback_switches_to_the_previous_version(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    first = versions.publish("recs", write_n(2, "a"))
    second = versions.publish("recs", write_n(2, "b"))
    assert versions.live("recs") == second
    assert versions.rollback("recs") == first
    assert versions.live("recs") == first


def test_activating_an_unknown_version_is_refused(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    first = versions.publish("recs", write_n(2, "a"))
    with pytest.raises(VersionError, match="unknown version"):
        versions.activate("recs", "v-does-not-exist")
    assert versions.live("recs") == first


def test_versions_beyond_keep_are_expired(redis_client, redis_url, tmp_path):
    config = StoreConfig(data_dir=tmp_path, redis_url=redis_url, keep_versions=2)
    versions = Versions(redis_client, config)
    made = [versions.publish("recs", write_n(3, str(i))) for i in range(4)]
    assert [m["version"] for m in versions.history("recs")] == made[::-1][:2]
    oldest_key = versions.keys.customer_data("recs", made[0], "c0", "recs")
    assert 0 < redis_client.ttl(oldest_key) <= 3600


def test_switch_is_announced_on_pubsub(redis_client, store_config):
    versions = Versions(redis_client, store_config)
    sub = redis_client.pubsub()
    sub.subscribe(versions.keys.channel("recs"))
    sub.get_message(timeout=1)
    version = versions.publish("recs", write_n(1, "a"))
    message = sub.get_message(timeout=2)
    assert message is not None and message["data"] == version.encode()
    sub.close()


def test_unreachable_server_raises_connection_error(tmp_path):
    client = redis.Redis(unix_socket_path=str(tmp_path / "nothing.sock"))
    with pytest.raises(redis.ConnectionError):
        Versions(client, StoreConfig(data_dir=tmp_path, redis_url="unix:///x")).live("recs")


def test_customer_history_is_published_strongest_first(redis_client, store_config):
    rng = np.random.default_rng(2)
    weights = rng.integers(0, 4, 40).astype(np.float32)  # ties: their order is kept
    items = rng.permutation(100)[:40].astype(np.uint32)
    bundle = ServingBundle(items=[], popular={}, customer_history=[("c1", (items, weights))])
    versions = Versions(redis_client, store_config)
    version = versions.publish(ARTIFACT, lambda release: write_serving(release, bundle))
    raw = redis_client.get(versions.keys.customer_data(ARTIFACT, version, "c1", "hist"))
    idx, published = unpack_ranked(raw)
    expected = sorted(zip(items.tolist(), weights.tolist(), strict=True), key=lambda p: -p[1])
    assert list(zip(idx.tolist(), published.tolist(), strict=True)) == expected
