"""`touchpoint worker` as a real process: killed with SIGKILL mid-delivery, it delivers the
event again on restart (at-least-once); bad configuration stops it at start with file and
line; `touchpoint webhooks dead|replay` through the real CLI."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import orjson
import redis
from typer.testing import CliRunner

from jobs.cli import build_app
from store.case_events import CASE_EVENTS, queue_case_event
from store.keys import Keys
from store.webhooks import GROUP, WebhookStore
from tests.webhooks.receiver import HANG, Receiver
from webhooks.signing import IDEMPOTENCY_HEADER, SIGNATURE_HEADER, verify

KEYS = Keys()
SECRET = "kill-test-secret-0123456789"
ROOT = Path(__file__).parents[2]


def config(tmp_path: Path, url: str, **policy: object) -> Path:
    extra = "".join(f"\n    {k}: {v}" for k, v in policy.items())
    path = tmp_path / "webhooks.yaml"
    path.write_text(
        textwrap.dedent(f"""\
        endpoints:
          - name: desk
            url: {url}
            secret_env: HOOK_SECRET""")
        + extra
        + "\n"
    )
    return path


def start_worker(tmp_path: Path, redis_url: str, hooks: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "TOUCHPOINT_REDIS_URL": redis_url, "HOOK_SECRET": SECRET}
    args = ["worker", "--data", str(tmp_path / "data"), "--webhooks", str(hooks)]
    code = "from jobs.cli import main; main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def append_opened(client: redis.Redis, case_id: str) -> dict:
    pipe = client.pipeline()
    entry = queue_case_event(pipe, KEYS, "case.opened", {"case_id": case_id, "queue": "support"})
    pipe.execute()
    return entry


def pending(client: redis.Redis) -> int:
    try:
        return int(client.xpending(KEYS.stream(CASE_EVENTS), GROUP)["pending"])
    except redis.ResponseError:  # no group yet
        return 0


def test_a_worker_killed_mid_delivery_delivers_again_on_restart(
    tmp_path, redis_url, redis_client
) -> None:
    with Receiver([HANG], then=200) as receiver:
        hooks = config(tmp_path, receiver.url, timeout_seconds=30)
        entry = append_opened(redis_client, "K1")
        first = start_worker(tmp_path, redis_url, hooks)
        try:
            assert len(receiver.wait_for(1, timeout=60)) == 1  # it is inside the POST now
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=20)
        finally:
            first.kill()
        assert first.returncode == -signal.SIGKILL
        assert pending(redis_client) == 1  # read, never acknowledged
        second = start_worker(tmp_path, redis_url, hooks)
        try:
            received = receiver.wait_for(2, timeout=60)
            deadline = time.monotonic() + 20
            while pending(redis_client) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(timeout=30)
    assert [r.answered for r in received] == [HANG, 200]
    again = received[1]
    assert orjson.loads(again.body) == entry
    assert again.headers[IDEMPOTENCY_HEADER] == entry["event_id"]
    assert verify(SECRET, again.headers[SIGNATURE_HEADER], again.body)
    assert pending(redis_client) == 0
    assert second.returncode == 0  # SIGTERM: the step under way finishes, then it exits


def test_a_disallowed_url_stops_the_worker_at_start(tmp_path, redis_url, monkeypatch) -> None:
    hooks = config(tmp_path, "https://attacker.example.net/x")
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    result = CliRunner().invoke(build_app(), ["worker", "--webhooks", str(hooks), "--once"])
    assert result.exit_code == 2
    text = "".join(result.output.split())
    assert "webhooks.yaml,line3" in text and "'attacker.example.net'isnotallowed" in text


def test_dead_and_replay_through_the_cli(tmp_path, redis_url, redis_client, monkeypatch) -> None:
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    app, runner = build_app(), CliRunner()
    with Receiver(then=500) as receiver:
        hooks = config(tmp_path, receiver.url, max_attempts=1)
        entry = append_opened(redis_client, "K9")
        ran = runner.invoke(app, ["worker", "--webhooks", str(hooks), "--once", "--json"])
        assert ran.exit_code == 0, ran.output
        dead = runner.invoke(app, ["webhooks", "dead", "--json"])
        (record,) = orjson.loads(dead.stdout)
        assert record["event"] == entry and record["error"] == "HTTP 500"
        missing = runner.invoke(app, ["webhooks", "replay", "no-such-id"])
        assert missing.exit_code == 2
        assert runner.invoke(app, ["webhooks", "replay"]).exit_code == 2  # ids or --all
        receiver.then = 200
        replayed = runner.invoke(app, ["webhooks", "replay", "--all", "--json"])
        assert orjson.loads(replayed.stdout) == {"replayed": [record["id"]]}
        again = runner.invoke(app, ["worker", "--webhooks", str(hooks), "--once"])
        assert again.exit_code == 0, again.output
    assert [r.answered for r in receiver.received] == [500, 200]
    store = WebhookStore(redis_client, KEYS)
    assert store.dead_letters() == [] and store.scheduled() == 0


def test_nothing_configured_acknowledges_everything(
    tmp_path, redis_url, redis_client, monkeypatch
) -> None:
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    append_opened(redis_client, "K1")
    ran = CliRunner().invoke(
        build_app(), ["worker", "--webhooks", str(tmp_path / "none.yaml"), "--once"]
    )
    assert ran.exit_code == 0, ran.output
    assert pending(redis_client) == 0
