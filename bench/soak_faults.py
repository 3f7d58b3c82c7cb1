"""The soak's processes and the faults it injects into them.

`Serve` runs `touchpoint serve --workers N --server S` on the data directory's embedded
Redis and finds its worker processes through /proc. `touchpoint serve` does not supervise
the embedded redis-server (each worker joins it at start-up and leaves at shutdown), so
after a SIGKILL `EmbeddedKeeper.restart` starts it again exactly as Touchpoint would: same
binary, directory, unix socket and append-only file (`store.embedded.EmbeddedRedis`).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import redis

from store.embedded import EmbeddedRedis

TOUCHPOINT = [sys.executable, "-c", "from jobs.cli import main; main()"]
RULES_FILE = "default.yaml"  # the rules file the soak breaks and then mends


def children(pid: int) -> list[int]:
    """Direct child processes of `pid` (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return sorted(found)


def worker_pids(master: int) -> list[int]:
    """uvicorn's and granian's workers: the master's children (multiprocessing spawn), but
    for uvicorn's resource tracker, which serves nothing."""
    pids = []
    for pid in children(master):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"resource_tracker" not in cmdline:
            pids.append(pid)
    return pids


def running(pid: int) -> bool:
    """Alive and not a zombie (a daemonised redis-server's parent may reap it late)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def wait_ready(base_url: str, *, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{base_url}/readyz never answered 200")


class Serve:
    """`touchpoint serve` in a subprocess, its stderr in `log`."""

    def __init__(self, data: Path, *, port: int, workers: int, server: str, env: dict[str, str],
                 log: Path) -> None:  # fmt: skip
        self.data, self.port, self.workers, self.log = data, port, workers, log
        args = [*TOUCHPOINT, "serve", "--data", str(data), "--port", str(port),
                "--workers", str(workers), "--server", server]  # fmt: skip
        self._log_handle = open(log, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            args, env=env, stdout=self._log_handle, stderr=subprocess.STDOUT
        )
        self.base_url = f"http://127.0.0.1:{port}"

    def wait_workers(self, *, seconds: float = 120.0) -> list[int]:
        """The worker pids, once there are `workers` of them and the API answers ready."""
        wait_ready(self.base_url, seconds=seconds)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pids = self.worker_pids()
            if len(pids) >= self.workers:
                return pids
            time.sleep(0.2)
        raise RuntimeError(f"{self.workers} workers never came up")

    def worker_pids(self) -> list[int]:
        return worker_pids(self.process.pid)

    def kill_worker(self) -> int:
        victim = self.worker_pids()[0]
        os.kill(victim, signal.SIGKILL)
        return victim

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait(timeout=10)
        self._log_handle.close()
        return code


class EmbeddedKeeper:
    """The harness's own hold on the embedded server: kill it, start it again."""

    def __init__(self, data: Path, *, appendfsync: str) -> None:
        self.server = EmbeddedRedis(data, appendfsync=appendfsync)
        self.url = self.server.acquire()  # joins the running one; keeps it up until release

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_timeout=2)

    def pid(self) -> int:
        return int((self.server.home / "redis.pid").read_text().strip())

    def kill(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while running(pid) and time.monotonic() < deadline:
            time.sleep(0.01)

    def restart(self) -> None:
        self.server.acquire()  # not alive: started with the same binary, dir, socket, AOF

    def used_memory(self) -> int | None:
        try:
            with self.client() as client:
                return int(client.info("memory")["used_memory"])
        except (redis.RedisError, OSError):
            return None

    def release(self) -> None:
        self.server.release()


class RulesFile:
    """A private copy of the rules directory, so one file can be broken and mended."""

    def __init__(self, source: Path, work: Path) -> None:
        self.directory = work / "rules"
        shutil.copytree(source, self.directory, dirs_exist_ok=True)
        self.path = self.directory / RULES_FILE
        self.good = self.path.read_text()

    def break_it(self) -> None:
        self.path.write_text(self.good + "\nexclude_recent_purchases: [unclosed\n")

    def mend(self) -> None:
        self.path.write_text(self.good)


def start_publish(
    data: Path, *, env: dict[str, str], budget: int, log: Path
) -> subprocess.Popen[bytes]:
    """`touchpoint run` on the served data: a new serving version goes live when it ends."""
    args = [*TOUCHPOINT, "run", "--data", str(data), "--budget-seconds", str(budget), "--json"]
    with open(log, "ab") as handle:
        return subprocess.Popen(args, env=env, stdout=handle, stderr=subprocess.STDOUT)


def ingest(data: Path, *, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TOUCHPOINT, "ingest", "--data", str(data), "--json"],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
