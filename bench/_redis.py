"""A throwaway redis-server for a bench run: on a unix socket in `work`, no snapshots,
append-only file on request (`aof`: `appendfsync everysec`, as the embedded server)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import redis


def start_redis(work: Path, *, aof: bool = False) -> tuple[subprocess.Popen[bytes], str]:
    """(the server process, its `unix://` URL), once it answers PING."""
    from store.embedded import redis_server_binary

    sock = work / "redis.sock"
    args = [redis_server_binary(), "--port", "0", "--unixsocket", str(sock), "--save", "",
            "--appendonly", "yes" if aof else "no", "--dir", str(work)]  # fmt: skip
    if aof:
        args += ["--appendfsync", "everysec"]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if redis.Redis(unix_socket_path=str(sock)).ping():
                return process, f"unix://{sock}"
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError("redis-server did not start")
