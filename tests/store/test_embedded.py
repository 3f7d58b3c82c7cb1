"""The embedded redis-server: started on demand, shared between processes, persistent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import redis

from store.client import connect
from store.config import StoreConfig
from store.embedded import EmbeddedRedis
from store.versions import Release, Versions


def short_data_dir(tmp_path: Path) -> Path:
    return tmp_path / "d"


def test_published_data_survives_a_restart_of_the_embedded_server(tmp_path):
    config = StoreConfig(data_dir=short_data_dir(tmp_path), redis_url=None)

    def write(release: Release) -> None:
        release.set(release.key("hello"), b"world")

    with connect(config) as client:
        version = Versions(client, config).publish("demo", write)
    server = EmbeddedRedis(config.data_dir)
    assert not server.socket.exists(), "the last process to leave stops the server"
    with connect(config) as client:
        versions = Versions(client, config)
        assert versions.live("demo") == version
        assert client.get(versions.keys.data("demo", version, "hello")) == b"world"


def test_a_second_process_shares_the_running_server(tmp_path):
    data_dir = short_data_dir(tmp_path)
    server = EmbeddedRedis(data_dir)
    url = server.acquire()
    try:
        script = textwrap.dedent(
            f"""
            from pathlib import Path
            from store.embedded import EmbeddedRedis
            import redis
            other = EmbeddedRedis(Path({str(data_dir)!r}))
            url = other.acquire()
            redis.Redis.from_url(url).set("from-child", "1")
            other.release()
            print(url)
            """
        )
        out = subprocess.run(
            [sys.executable, "-c", script], check=True, capture_output=True, text=True
        )
        assert out.stdout.strip() == url
        # The child left, but this process still holds the server: it keeps running.
        assert redis.Redis.from_url(url).get("from-child") == b"1"
    finally:
        server.release()
    assert not server.socket.exists()


def test_long_data_dir_paths_fall_back_to_a_short_socket(tmp_path):
    deep = tmp_path / ("x" * 120)
    server = EmbeddedRedis(deep)
    assert len(str(server.socket)) <= 100
    assert server.url.startswith("unix:///tmp/touchpoint-")
