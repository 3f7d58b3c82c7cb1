"""The pure follow-up decisions (`insights.followup`), its configuration and its report."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from insights.case_report import next_nps, timing, welch
from insights.followup import (
    IllegalTransition,
    check_transition,
    customer_value,
    is_overdue,
    opens_case,
    plan_case,
    priority_of,
    severity_of,
)
from insights.followup_config import (
    CaseConfig,
    CaseConfigError,
    load_case_config,
    parse_case_config,
)

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def config() -> CaseConfig:
    return load_case_config(REPO_RULES)


@pytest.mark.parametrize(
    ("survey", "score", "severity"),
    [("nps", 0, 3), ("nps", 2, 3), ("nps", 4, 2), ("nps", 6, 1), ("csat", 1, 3), ("csat", 2, 2),
     ("ces", 1, 3), ("ces", 2, 2), ("ces", 3, 1)],
)  # fmt: skip
def test_severity_grows_with_distance_below_the_threshold(survey, score, severity):
    threshold = {"nps": 6, "csat": 2, "ces": 3}[survey]
    assert severity_of(survey, score, threshold) == severity


def test_a_negative_comment_opens_a_case_only_with_a_sentiment_score(config):
    happy = {"survey": "nps", "score": 9, "customer_id": "c"}
    assert opens_case(happy, config) is None
    assert opens_case(happy, config, sentiment=-0.2) is None
    opening = opens_case(happy, config, sentiment=-0.9)
    assert opening is not None and opening.trigger == "sentiment" and opening.severity == 1


def test_value_multiplies_tier_segment_and_spend(config):
    assert customer_value(None, config) == 1.0
    profile = {"loyalty_tier": "gold", "rfm_segment": "Champions", "monetary": 6000.0}
    assert customer_value(profile, config) == pytest.approx(1.5 * 1.5 * 1.5)
    assert customer_value({"monetary": 1500}, config) == pytest.approx(1.2)
    assert priority_of(3, 1.5, config) == ("p1", 4.5)
    assert priority_of(1, 1.0, config) == ("p3", 1.0)


def test_plan_case_routes_by_touchpoint_and_sets_the_due_time(config):
    answer = {"survey": "csat", "score": 1, "customer_id": "c", "touchpoint": "returns"}
    case = plan_case(answer, None, config, now=NOW)
    assert case is not None and case["queue"] == "delivery"
    assert case["due_at"] == "2026-12-02T12:00:00Z"
    other = plan_case({**answer, "touchpoint": "mystery"}, None, config, now=NOW)
    assert other is not None and other["queue"] == "general"


def test_transitions():
    check_transition("open", "contacted")
    check_transition("open", "closed_no_action")
    check_transition("contacted", "resolved")
    check_transition("contacted", "contacted")  # no change
    for current, new in [("open", "resolved"), ("resolved", "open"), ("closed_no_action",
                                                                      "contacted")]:  # fmt: skip
        with pytest.raises(IllegalTransition):
            check_transition(current, new)


def test_overdue_only_while_open(config):
    case = {"status": "open", "due_at": "2026-12-01T11:00:00Z"}
    assert is_overdue(case, NOW)
    assert not is_overdue({**case, "status": "resolved"}, NOW)
    assert not is_overdue({**case, "due_at": "2026-12-01T13:00:00Z"}, NOW)


@pytest.mark.parametrize(
    ("text", "line", "where"),
    [
        ("thresholds:\n  nps: {max: 11}\n", 2, "thresholds.nps.max"),
        ("queues:\n  a: {sla_hours: 4}\n  b:\n    sla_hours: -1\n", 4, "queues.b.sla_hours"),
        ("value:\n  tier: {diamond: 2}\n", 2, "value.tier.diamond"),
        ("colour: red\n", 1, "colour"),
        ("priorities:\n  - {name: low, min: 0}\n  - {name: high, min: 5}\n", 1, "priorities"),
    ],
)
def test_bad_configuration_names_file_line_and_key(text, line, where):
    with pytest.raises(CaseConfigError) as error:
        parse_case_config(text, "cases.yaml")
    assert error.value.line == line and error.value.key == where
    assert str(error.value).startswith(f"cases.yaml, line {line}: {where}: ")


def test_the_repository_configuration_is_valid(config):
    assert config.thresholds == {"nps": 6, "csat": 2, "ces": 3}
    assert config.source.endswith("cases.yaml")


def _case(n, queue, created, contacted=None, resolved=None, due_hours=24, status="open"):
    iso = "%Y-%m-%dT%H:%M:%SZ"
    return {
        "case_id": f"k{n}", "customer_id": f"c{n}", "queue": queue, "status": status,
        "response_id": f"r{n}", "created_at": created.strftime(iso),
        "due_at": (created + timedelta(hours=due_hours)).strftime(iso),
        "contacted_at": contacted.strftime(iso) if contacted else None,
        "resolved_at": resolved.strftime(iso) if resolved else None,
    }  # fmt: skip


def test_timing_per_queue():
    start = NOW - timedelta(days=3)
    cases = [
        _case(1, "q", start, start + timedelta(hours=2), start + timedelta(hours=10),
              status="resolved"),
        _case(2, "q", start, start + timedelta(hours=4), start + timedelta(hours=30),
              status="resolved"),
        _case(3, "q", start),  # past due, never resolved
        _case(4, "q", NOW - timedelta(hours=1)),  # not yet due: not judged
    ]  # fmt: skip
    row = timing(cases, NOW)["q"]
    assert row["cases"] == 4 and row["open"] == 2
    assert row["hours_to_first_contact"]["median"] == 3.0
    assert row["hours_to_resolution"]["median"] == 20.0
    assert row["within_sla"] == {"n": 3, "share": round(1 / 3, 4)}


def test_next_nps_counts_only_answers_after_the_newest_case():
    start = NOW - timedelta(days=10)
    cases = [_case(1, "q", start, status="resolved"), _case(2, "q", start)]
    latest = {
        "c1": {"score": 9, "timestamp": "2026-11-30T00:00:00Z", "response_id": "x"},
        "c2": {"score": 3, "timestamp": "2026-11-01T00:00:00Z", "response_id": "y"},  # before
    }
    body = next_nps(cases, latest)
    assert body["resolved"]["n"] == 1 and body["resolved"]["nps"] == 100.0
    assert body["not_resolved"]["n"] == 0
    assert "not an experiment" in body["warning"]


def _scores(rng, mean, sd, n):
    return np.clip(np.round(rng.normal(mean, sd, n)), 0, 10)


def test_welch_interval_covers_the_true_difference_about_95_percent_of_the_time():
    # the truth of clipped, rounded scores, from a simulation two thousand times larger
    big = np.random.default_rng(0)
    truth = _scores(big, 7.5, 2.0, 2_000_000).mean() - _scores(big, 6.0, 2.5, 2_000_000).mean()
    rng = np.random.default_rng(3)
    covered, runs = 0, 400
    for _ in range(runs):
        a, b = _scores(rng, 7.5, 2.0, 60), _scores(rng, 6.0, 2.5, 80)
        result = welch(a.astype(int).tolist(), b.astype(int).tolist())
        assert result is not None
        covered += result["low"] <= truth <= result["high"]
    assert 0.92 <= covered / runs <= 0.98
