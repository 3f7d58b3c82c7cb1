"""The embedded redis-server: started on demand, shared between processes, persistent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from store import embedded
from store.client import connect
from store.config import StoreConfig
from store.embedded import EmbeddedRedis, EmbeddedRedisError, redis_server_binary
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
            from store.embedded import EmbeddedRedis, EmbeddedRedisError, redis_server_binary
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


def fake_redis_server(tmp_path: Path, version: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A `redis-server` first on PATH that reports `version` and fails if asked to serve."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    script = folder / "redis-server"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "Redis server v={version} sha=0"; exit 0; fi\n'
        "echo 'the wrong redis-server was started' >&2; exit 1\n"
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def written_by_a_removed_server(tmp_path: Path, version: list[int]) -> EmbeddedRedis:
    """A data directory whose record names a redis-server of `version` that is gone."""
    server = EmbeddedRedis(short_data_dir(tmp_path))
    server.home.mkdir(parents=True)
    gone = {"binary": str(tmp_path / "removed" / "redis-server"), "version": version}
    (server.home / "server.json").write_text(json.dumps(gone))
    return server


def test_the_server_that_wrote_the_data_starts_again_ahead_of_another_on_path(
    tmp_path, monkeypatch
):
    data_dir = short_data_dir(tmp_path)
    server = EmbeddedRedis(data_dir)
    server.acquire()
    redis.Redis.from_url(server.url).set("kept", "1")
    server.release()
    record = json.loads((server.home / "server.json").read_text())
    assert record["binary"] == os.path.abspath(redis_server_binary())
    older = fake_redis_server(tmp_path, "6.2.14", monkeypatch)
    assert redis_server_binary() == str(older / "redis-server")
    again = EmbeddedRedis(data_dir)
    try:
        assert redis.Redis.from_url(again.acquire()).get("kept") == b"1"
    finally:
        again.release()


def test_a_server_older_than_the_data_writer_is_refused_with_both_versions(tmp_path, monkeypatch):
    server = written_by_a_removed_server(tmp_path, [7, 2, 4])
    fake_redis_server(tmp_path, "7.0.15", monkeypatch)
    with pytest.raises(EmbeddedRedisError, match=r"written by Redis 7\.2\.4.*Redis 7\.0\.15"):
        server.acquire()


def test_redis_7_files_without_a_record_refuse_an_older_server(tmp_path, monkeypatch):
    server = EmbeddedRedis(short_data_dir(tmp_path))
    (server.home / "appendonlydir").mkdir(parents=True)
    fake_redis_server(tmp_path, "6.2.14", monkeypatch)
    with pytest.raises(EmbeddedRedisError, match=r"written by Redis 7.*Redis 6\.2\.14"):
        server.acquire()


def test_an_older_patch_release_of_the_same_redis_is_let_through(tmp_path, monkeypatch):
    server = written_by_a_removed_server(tmp_path, [7, 0, 15])
    fake_redis_server(tmp_path, "7.0.11", monkeypatch)
    # not refused for its version: started (and the fake binary then fails to serve)
    with pytest.raises(EmbeddedRedisError, match="failed to start: the wrong redis-server"):
        server.acquire()


@pytest.mark.parametrize("record", ["{not json", "[7, 0]", "", '{"version": ["7", "x"]}'])
def test_an_unreadable_record_counts_as_none(tmp_path, monkeypatch, record):
    server = EmbeddedRedis(short_data_dir(tmp_path))
    (server.home / "appendonlydir").mkdir(parents=True)
    (server.home / "server.json").write_text(record)
    fake_redis_server(tmp_path, "6.2.14", monkeypatch)
    # the files still say Redis 7: refused with the versions, not a JSON or type error
    with pytest.raises(EmbeddedRedisError, match=r"written by Redis 7.*Redis 6\.2\.14"):
        server.acquire()


@pytest.mark.parametrize("policy", ["always", "everysec"])
def test_the_configured_appendfsync_policy_is_the_started_servers(tmp_path, monkeypatch, policy):
    monkeypatch.setenv("TOUCHPOINT_REDIS_APPENDFSYNC", policy)
    monkeypatch.delenv("TOUCHPOINT_REDIS_URL", raising=False)
    config = StoreConfig(data_dir=short_data_dir(tmp_path))
    with connect(config) as client:
        assert client.config_get("appendfsync") == {"appendfsync": policy}
        assert client.config_get("appendonly") == {"appendonly": "yes"}


def test_an_unknown_appendfsync_policy_is_refused(monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_REDIS_APPENDFSYNC", "sometimes")
    with pytest.raises(ValueError, match="appendfsync"):
        StoreConfig()


def test_a_server_loading_its_data_is_waited_for_not_taken_for_dead(tmp_path, monkeypatch):
    """A large data directory takes a while to load, and redis-server opens its socket only
    once it has: the start waits while the server's process runs. A `redis-server` first on
    PATH adds Redis' own test knob `key-load-delay` (µs per key): 20,000 keys take ~4 s to
    load, longer than the (shortened) time a server is given to answer."""
    real = redis_server_binary()
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "redis-server"
    script.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then exec {real} --version; fi\n'
        f'exec {real} "$@" --key-load-delay 200\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    server = EmbeddedRedis(short_data_dir(tmp_path))
    client = redis.Redis.from_url(server.acquire())
    pipe = client.pipeline(transaction=False)
    for start in range(0, 20_000, 1_000):
        pipe.mset({f"k{n}": "v" for n in range(start, start + 1_000)})
    pipe.execute()
    client.bgrewriteaof()  # into the RDB base file, which is what the knob slows
    while client.info("persistence")["aof_rewrite_in_progress"]:
        time.sleep(0.05)
    client.close()
    server.release()  # shut down: the next start loads the 20,000 keys
    assert not server.socket.exists()
    monkeypatch.setattr(embedded, "ANSWER_SECONDS", 1.0)
    loaded = redis.Redis.from_url(server.acquire())
    try:
        assert loaded.dbsize() == 20_000
    finally:
        loaded.close()
        server.release()


def test_a_server_that_never_answers_is_stopped_not_left_running(tmp_path, monkeypatch):
    """A `redis-server` that writes its pid file and then never opens its socket: the start
    gives up after the (shortened) loading allowance and stops that process."""
    folder = tmp_path / "bin"
    folder.mkdir()
    script = folder / "redis-server"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = "--version" ]; then echo "Redis server v=7.0.15 sha=0"; exit 0; fi\n'
        'while [ "$1" != "--pidfile" ]; do shift; done\n'
        "sleep 600 > /dev/null 2>&1 &\n"
        'echo $! > "$2"\n'
    )
    script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setattr(embedded, "ANSWER_SECONDS", 0.5)
    monkeypatch.setattr(embedded, "LOAD_SECONDS", 1.0)
    server = EmbeddedRedis(short_data_dir(tmp_path))
    with pytest.raises(EmbeddedRedisError, match="did not answer"):
        server.acquire()
    pid = int((server.home / "redis.pid").read_text())
    deadline = time.monotonic() + 10
    while _runs(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _runs(pid)


def _runs(pid: int) -> bool:
    try:
        waited, _ = os.waitpid(pid, os.WNOHANG)  # reap it if it is our zombie child
    except ChildProcessError:
        waited = 0
    if waited:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
