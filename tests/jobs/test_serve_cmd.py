"""`touchpoint serve` refuses, in one line and before uvicorn starts, a data directory its
redis-server cannot read."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.store.test_embedded import short_data_dir


def test_serve_names_both_redis_versions_without_a_traceback(tmp_path):
    data = short_data_dir(tmp_path)
    (data / ".redis" / "appendonlydir").mkdir(parents=True)  # as Redis 7 writes it
    fake = tmp_path / "bin" / "redis-server"
    fake.parent.mkdir()
    fake.write_text('#!/bin/sh\necho "Redis server v=6.2.14 sha=0"\n')
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{fake.parent}{os.pathsep}{os.environ['PATH']}",
           "COLUMNS": "400"}  # fmt: skip
    env.pop("TOUCHPOINT_REDIS_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", "from jobs.cli import main; main()", "serve", "--data", str(data)],
        env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "written by Redis 7" in output and "Redis 6.2.14" in output
    assert "Traceback" not in output


def _first_log_line_on_a_terminal(redis_url: str, tmp_path, *flags: str) -> str:
    """Start `touchpoint serve` with stderr on a pseudo-terminal; its first log line."""
    import pty
    import select
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TOUCHPOINT_REDIS_URL": redis_url, "COLUMNS": "200"}
    leader, follower = pty.openpty()
    server = subprocess.Popen(
        [sys.executable, "-c", "from jobs.cli import main; main()", "serve", "--data",
         str(tmp_path), "--port", str(port), *flags],
        env=env, stdout=subprocess.DEVNULL, stderr=follower, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    os.close(follower)
    text = b""
    try:
        while b"\n" not in text:
            ready, _, _ = select.select([leader], [], [], 60)
            assert ready, "serve logged nothing within 60 s"
            text += os.read(leader, 4096)
    finally:
        server.terminate()
        server.wait(timeout=30)
        os.close(leader)
    return text.decode(errors="replace").splitlines()[0]


def test_serve_json_logs_json_lines_on_a_terminal_too(redis_url, tmp_path):
    line = _first_log_line_on_a_terminal(redis_url, tmp_path, "--json")
    assert json.loads(line)["level"] in ("info", "warning")
    plain = _first_log_line_on_a_terminal(redis_url, tmp_path)
    assert not plain.lstrip().startswith("{")


@pytest.mark.parametrize("server", ["uvicorn", "granian"])
def test_serve_answers_under_either_http_server_and_respawns_a_killed_worker(
    redis_url, tmp_path, server
):
    import signal
    import socket
    import time

    import httpx

    from bench.soak_faults import children, worker_pids

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "TOUCHPOINT_REDIS_URL": redis_url}
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from jobs.cli import main; main()", "serve", "--data",
             str(tmp_path), "--port", str(port), "--workers", "2", "--server", server],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def workers() -> list[int]:
        return worker_pids(proc.pid)

    def wait_for(check, what: str) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        pytest.fail(f"{server}: {what} within 120 s")

    try:
        health = f"http://127.0.0.1:{port}/healthz"
        wait_for(lambda: httpx.get(health, timeout=5).status_code == 200, "no answer")
        wait_for(lambda: len(workers()) == 2, "not 2 workers")
        if server == "granian":  # each worker up (its master logs it), before one is killed
            wait_for(lambda: log.read_text().count("Started worker") >= 2, "workers not up")
        victim = workers()[0]
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in workers() and len(workers()) == 2, "no respawn")
        if server == "granian":  # its master hangs if stopped while a worker starts (2.8.9)
            wait_for(lambda: log.read_text().count("Started worker") >= 3, "respawned not up")
        wait_for(lambda: httpx.get(health, timeout=5).status_code == 200, "no answer after")
        proc.terminate()
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            for pid in children(proc.pid):
                os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait(timeout=10)


def test_serve_refuses_an_unknown_http_server(tmp_path):
    result = subprocess.run(
        [sys.executable, "-c", "from jobs.cli import main; main()", "serve", "--data",
         str(tmp_path), "--server", "gunicorn"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "gunicorn" in result.stderr
