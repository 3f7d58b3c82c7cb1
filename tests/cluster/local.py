"""A local Redis Cluster of `PRIMARIES` primaries (no replicas) on free 127.0.0.1 ports,
from the same `redis-server` the suite uses, joined with `redis-cli --cluster create`.
Used by the cluster tests (`tests/cluster/conftest.py`) and `bench/cluster_speed.py`."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis

from store.embedded import redis_server_binary

PRIMARIES = 3


def _free_port() -> int:
    """A port free for the node and for its cluster bus (port + 10000)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + 10000 > 65535:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


class LocalCluster:
    """`PRIMARIES` redis-server processes with `--cluster-enabled yes`, slots assigned."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.ports: list[int] = []
        self.processes: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port)

    def start(self, cli: str) -> None:
        while len(self.ports) < PRIMARIES:
            port = _free_port()
            if port not in self.ports:
                self.ports.append(port)
        for port in self.ports:
            workdir = self.home / str(port)
            workdir.mkdir()
            args = [
                redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
                "--cluster-node-timeout", "2000", "--appendonly", "no", "--save", "",
                "--dir", str(workdir),
            ]  # fmt: skip
            self.processes.append(subprocess.Popen(args, stdout=subprocess.DEVNULL))
        for port in self.ports:
            self._wait(lambda p=port: bool(self.node(p).ping()))
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", "0", "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        for port in self.ports:
            self._wait(lambda p=port: b"cluster_state:ok" in self.node(p).execute_command(
                "CLUSTER", "INFO"))  # fmt: skip

    def _wait(self, ready, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError("test Redis Cluster did not become ready")

    def node_for(self, key: bytes | str) -> redis.Redis:
        """The primary serving `key`'s slot."""
        raw = key.encode() if isinstance(key, str) else key
        for port in self.ports:
            node = self.node(port)
            slot = node.execute_command("CLUSTER", "KEYSLOT", raw)
            owner = node.execute_command("CLUSTER", "NODES").decode()
            for line in owner.splitlines():
                if "myself" in line:
                    for part in line.split()[8:]:
                        lo, _, hi = part.partition("-")
                        if lo.isdigit() and int(lo) <= slot <= int(hi or lo):
                            return node
        raise LookupError(f"no primary serves {key!r}")

    def flush(self) -> None:
        for port in self.ports:
            self.node(port).flushall()

    def keys_per_node(self) -> dict[int, int]:
        return {port: int(self.node(port).dbsize()) for port in self.ports}

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            process.wait(timeout=20)
        self.processes.clear()
