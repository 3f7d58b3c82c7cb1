"""`touchpoint serve` refuses, in one line and before uvicorn starts, a data directory its
redis-server cannot read."""

from __future__ import annotations

import os
import subprocess
import sys

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
