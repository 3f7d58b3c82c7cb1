"""Exponential backoff with jitter, checked by simulation against its stated distribution."""

from __future__ import annotations

import random
import statistics

import pytest

from webhooks.timing import Backoff, due_time, is_overdue, next_step


def test_the_ceiling_doubles_per_attempt_up_to_the_cap() -> None:
    backoff = Backoff(base_seconds=10, max_seconds=300, jitter=0)
    assert [backoff.delay(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    assert backoff.delay(500) == 300  # no overflow however long it failed


@pytest.mark.parametrize("jitter", [0.25, 0.5, 1.0])
def test_jitter_is_uniform_below_the_ceiling(jitter: float) -> None:
    backoff = Backoff(base_seconds=8, max_seconds=1000, jitter=jitter)
    rng = random.Random(2026)
    draws = [backoff.delay(3, rng) for _ in range(20_000)]  # ceiling 32 s
    low, high = 32 * (1 - jitter), 32.0
    assert all(low <= d <= high for d in draws)
    # uniform on [low, high]: mean (low+high)/2, sd (high-low)/sqrt(12); 20k draws put the
    # sample mean within 5 standard errors of it
    sd = (high - low) / 12**0.5
    assert abs(statistics.fmean(draws) - (low + high) / 2) < 5 * sd / len(draws) ** 0.5
    assert statistics.pstdev(draws) == pytest.approx(sd, rel=0.05)


def test_retries_then_dead_after_max_attempts() -> None:
    assert [next_step(n, 3) for n in (1, 2, 3)] == ["retry", "retry", "dead"]
    assert next_step(1, 1) == "dead"


@pytest.mark.parametrize(
    ("case", "due"),
    [
        ({"status": "open", "due_at": 1_700_000_000}, 1_700_000_000.0),
        ({"status": "contacted", "due_at": "2023-11-14T22:13:20Z"}, 1_700_000_000.0),
        ({"status": "open", "due_at": "2023-11-14T22:13:20"}, 1_700_000_000.0),  # naive = UTC
        ({"status": "open", "due_at": "2023-11-15T00:13:20+02:00"}, 1_700_000_000.0),
        ({"status": "resolved", "due_at": 1_700_000_000}, None),
        ({"status": "closed_no_action", "due_at": 1_700_000_000}, None),
        ({"status": "open", "due_at": "next tuesday"}, None),
        ({"status": "open"}, None),
    ],
)
def test_due_time_of_a_case(case: dict, due: float | None) -> None:
    assert due_time(case) == due
    assert is_overdue(case, 1_700_000_000.0) is (due is not None)
    assert not is_overdue(case, 1_699_999_999.0)
