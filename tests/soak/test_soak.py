"""A one-minute soak with every fault of the full one (`bench/soak.py`), at a low rate:
`touchpoint serve` (2 uvicorn workers, the embedded Redis with `appendfsync always`) under
mixed traffic while a publish runs, a worker and Redis are SIGKILLed, a rules file is broken
and mended, and a 10x burst meets the per-address rate limit. It asserts on errors and
loss, never on timing: latencies and memory are printed by the bench, not checked here.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from bench.soak import prepare_data
from bench.soak_report import OUTAGE
from bench.soak_run import SoakOptions, run_soak


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def soak(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    work = tmp_path_factory.mktemp("soak")
    data = prepare_data(work / "data", customers=1000, items=200, budget=5)
    options = SoakOptions(
        data=data, work=work, duration=60.0, rate=12.0, appendfsync="always",
        sample_every=5.0, baseline_seconds=2.0, port=free_port(), timeout=30.0,
    )  # fmt: skip
    return run_soak(options)


def goal(result: dict[str, Any], name: str) -> bool:
    ok, _detail = result["goals"][name]
    return bool(ok)


def test_no_5xx_and_no_unanswered_request_outside_the_injected_faults(soak):
    assert goal(soak, "zero 5xx outside the Redis outage"), soak["phases"]
    assert goal(soak, "every request answered outside the outage and the worker kill"), soak[
        "phases"
    ]


def test_the_redis_outage_happened_and_the_api_recovered_within_5_s(soak):
    outage = soak["phases"][OUTAGE]
    assert outage.get("503", 0) + outage.get("200 degraded", 0) > 0, outage  # it did go down
    assert goal(soak, "recovery within 5 s of Redis returning"), soak["recovery_seconds"]
    after = [p for name, p in soak["phases"].items() if name in ("burst", "steady")]
    assert sum(p["requests"] for p in after) > 0, "traffic went on after the outage"


def test_every_event_and_feedback_answered_202_is_in_the_data_directory_after_ingest(soak):
    sent = soak["intake_sent"]
    assert sent["events"] > 0 and sent["feedback"] > 0
    assert soak["intake_lost"] == {"events": 0, "feedback": 0}, soak["lost_before_kill_s"]


def test_the_publish_the_worker_kill_and_the_rules_edit_all_took_effect(soak):
    assert goal(soak, "the publish made a new version live"), soak["timeline"]
    assert goal(soak, "the killed worker was respawned"), soak["timeline"]
    assert goal(soak, "the broken rules file was reported, the mended one reloaded"), soak["goals"]


def test_the_burst_meets_the_rate_limit(soak):
    assert soak["burst_429"] > 0, soak["phases"]
    assert soak["serve_exit"] == 0
