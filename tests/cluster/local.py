"""A local Redis Cluster of `PRIMARIES` primaries with `REPLICAS` replica each on free
127.0.0.1 ports, from the same `redis-server` the suite uses, joined with
`redis-cli --cluster create --cluster-replicas N`. Used by the cluster tests
(`tests/cluster/conftest.py`) and the benches (`bench/cluster_speed.py`,
`bench/redis_capacity.py`).

A node killed with `kill` (SIGKILL, as a crash) is promoted away from by its replica after
`NODE_TIMEOUT_MS`; `restart` starts it again from its `nodes.conf`, and it rejoins as a
replica of the node that took its slots. `freeze` (SIGSTOP) a primary with its replicas
and nothing can take over: its slots stay down while the other primaries keep serving
(`cluster-require-full-coverage no`) until `thaw`.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import redis

from store.embedded import redis_server_binary

PRIMARIES = 3
REPLICAS = 1  # per primary
NODE_TIMEOUT_MS = 1500  # how long a primary may be silent before its replica takes over


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
    """`PRIMARIES × (1 + replicas)` redis-server processes with `--cluster-enabled yes`."""

    def __init__(self, home: Path, *, replicas: int = REPLICAS) -> None:
        self.home = home
        self.replicas = replicas
        self.ports: list[int] = []
        self.processes: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, socket_timeout=5)

    def _spawn(self, port: int) -> None:
        args = [
            redis_server_binary(), "--port", str(port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", str(NODE_TIMEOUT_MS),
            "--cluster-replica-validity-factor", "0",  # a replica always may take over
            "--cluster-require-full-coverage", "no",  # a shard down: the others still serve
            "--appendonly", "no", "--save", "", "--dir", str(self.home / str(port)),
        ]  # fmt: skip
        self.processes[port] = subprocess.Popen(args, stdout=subprocess.DEVNULL)

    def start(self, cli: str) -> None:
        while len(self.ports) < PRIMARIES * (1 + self.replicas):
            port = _free_port()
            if port not in self.ports:
                self.ports.append(port)
        for port in self.ports:
            (self.home / str(port)).mkdir()
            self._spawn(port)
        for port in self.ports:
            self._wait(lambda p=port: bool(self.node(p).ping()))
        nodes = [f"127.0.0.1:{p}" for p in self.ports]
        subprocess.run(
            [cli, "--cluster", "create", *nodes, "--cluster-replicas", str(self.replicas),
             "--cluster-yes"],
            check=True, stdout=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        self.wait_healthy()

    def wait_healthy(self, seconds: float = 60) -> None:
        """Until every live node says `cluster_state:ok` and every replica is in sync."""

        def healthy() -> bool:
            for port in self.live():
                if b"cluster_state:ok" not in self.node(port).execute_command("CLUSTER", "INFO"):
                    return False
            roles = {p: self.role(p) for p in self.live()}
            if list(roles.values()).count("master") != PRIMARIES or len(roles) != len(self.ports):
                return False
            return all(self.synced(p) for p, role in roles.items() if role == "slave")

        self._wait(healthy, seconds)

    def _wait(self, ready: Callable[[], bool], seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if ready():
                    return
            except redis.RedisError:
                pass
            time.sleep(0.05)
        raise RuntimeError("test Redis Cluster did not become ready")

    def live(self) -> list[int]:
        return [p for p, proc in self.processes.items() if proc.poll() is None]

    def role(self, port: int) -> str:
        """`master` or `slave` (as `ROLE` says)."""
        role = self.node(port).execute_command("ROLE")[0]
        return role.decode() if isinstance(role, bytes) else str(role)

    def synced(self, port: int) -> bool:
        """A replica holds its primary's data (its first full sync is done)."""
        info = self.node(port).info("replication")
        return info.get("master_link_status") == "up" and not info.get("master_sync_in_progress")

    def primaries(self) -> list[int]:
        """The live nodes serving slots now (they change on a failover)."""
        return [p for p in self.live() if self.role(p) == "master"]

    def node_for(self, key: bytes | str) -> redis.Redis:
        """The primary serving `key`'s slot."""
        raw = key.encode() if isinstance(key, str) else key
        for port in self.primaries():
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
        for port in self.primaries():
            self.node(port).flushall()

    def keys_per_node(self) -> dict[int, int]:
        return {port: int(self.node(port).dbsize()) for port in self.primaries()}

    def kill(self, port: int) -> None:
        """SIGKILL one node (a crash: no goodbye to the cluster)."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)

    def replicas_of(self, port: int) -> list[int]:
        """The ports replicating the primary on `port` (from its `ROLE`)."""
        role = self.node(port).execute_command("ROLE")
        return [int(replica[1]) for replica in role[2]]

    def freeze(self, ports: list[int]) -> None:
        """SIGSTOP: the nodes hold their data but answer nothing (a hung shard)."""
        for port in ports:
            self.processes[port].send_signal(signal.SIGSTOP)

    def thaw(self, ports: list[int]) -> None:
        """SIGCONT the frozen nodes; the cluster is whole again once they are seen."""
        for port in ports:
            self.processes[port].send_signal(signal.SIGCONT)
        self.wait_healthy()

    def restart(self, port: int) -> None:
        """Start a killed node again; it rejoins (as a replica if its slots moved on)."""
        self._spawn(port)
        self._wait(lambda: bool(self.node(port).ping()))
        self.wait_healthy()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            process.wait(timeout=20)
        self.processes.clear()
