"""Follow-up cases from unhappy answers: the decisions, pure (no Redis, no HTTP).

Does an answer open a case (its score at most the survey's threshold, or a strongly negative
comment when a sentiment scorer is available); how severe (1-3, how far below the
threshold); how valuable the customer is (tier × RFM segment × lifetime spend factors); the
priority (severity × value → a level); the queue that owns it (by touchpoint) and its due
time (the queue's SLA); and which status changes are legal. The configuration is
`rules/cases.yaml` (`insights.followup_config`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from contracts.errors import Conflict
from contracts.schema import SURVEY_RANGES
from insights.followup_config import CaseConfig, Queue

SEVERITY_LEVELS = 3
OPEN, CONTACTED, RESOLVED, CLOSED = "open", "contacted", "resolved", "closed_no_action"
STATUSES = (OPEN, CONTACTED, RESOLVED, CLOSED)
TERMINAL = frozenset({RESOLVED, CLOSED})
# open → contacted → resolved | closed_no_action; an open case may be closed without action
# (a test answer, a duplicate) but is resolved only after someone contacted the customer.
TRANSITIONS: Mapping[str, frozenset[str]] = {
    OPEN: frozenset({CONTACTED, CLOSED}),
    CONTACTED: frozenset({RESOLVED, CLOSED}),
    RESOLVED: frozenset(),
    CLOSED: frozenset(),
}


class IllegalTransition(Conflict):
    """A status change the case's life cycle does not allow (`details`: from, to, allowed)."""


class SentimentScorer(Protocol):
    """What `insights.sentiment.SentimentModel` offers: a score in -1..1 per text."""

    def score(self, texts: Sequence[str]) -> Sequence[float]: ...


@dataclass(frozen=True)
class Opening:
    """Why an answer opens a case: its severity (1 mild .. 3 worst) and the trigger."""

    severity: int
    trigger: str  # "score" or "sentiment"


def severity_of(survey: str, score: int, threshold: int) -> int:
    """1..3 by how far `score` lies at or below `threshold` (scores: low = unhappy)."""
    low = SURVEY_RANGES[survey][0]
    share = (threshold - score + 1) / (threshold - low + 1)
    return max(1, min(SEVERITY_LEVELS, math.ceil(SEVERITY_LEVELS * share - 1e-9)))


def opens_case(
    answer: Mapping[str, Any], config: CaseConfig, *, sentiment: float | None = None
) -> Opening | None:
    """Whether `answer` (survey, score) opens a case; `sentiment` is its comment's score
    when a scorer is available (None: not scored)."""
    survey, score = str(answer["survey"]), int(answer["score"])
    threshold = config.thresholds.get(survey)
    if threshold is not None and score <= threshold:
        return Opening(severity_of(survey, score, threshold), "score")
    limit = config.sentiment_max
    if sentiment is not None and limit is not None and sentiment <= limit:
        return Opening(1, "sentiment")
    return None


def comment_sentiment(comment: str, scorer: SentimentScorer | None) -> float | None:
    """The comment's sentiment when a scorer is available and there is a comment."""
    if scorer is None or not comment.strip():
        return None
    return float(scorer.score([comment])[0])


def needs_sentiment(answer: Mapping[str, Any], config: CaseConfig) -> bool:
    """Whether only its comment's sentiment could open a case for `answer`: it has a
    comment, the configuration has a sentiment limit, and its score opens none."""
    return (
        config.sentiment_max is not None
        and bool(str(answer.get("comment") or "").strip())
        and opens_case(answer, config) is None
    )


def comment_sentiments(
    answers: Sequence[Mapping[str, Any]], config: CaseConfig, scorer: SentimentScorer | None
) -> list[float | None]:
    """Per answer, its comment's sentiment where only that could open a case (one `score`
    call for them all); None elsewhere (no scorer, no comment, or the score decides)."""
    out: list[float | None] = [None] * len(answers)
    if scorer is None:
        return out
    rows = [i for i, a in enumerate(answers) if needs_sentiment(a, config)]
    if rows:
        values = scorer.score([str(answers[i]["comment"]) for i in rows])
        for i, value in zip(rows, values, strict=True):
            out[i] = float(value)
    return out


def customer_value(profile: Mapping[str, Any] | None, config: CaseConfig) -> float:
    """Tier × RFM segment × lifetime spend factors of the published profile (1.0 unknown)."""
    profile = profile or {}
    value = config.tier_factors.get(str(profile.get("loyalty_tier") or "none"), 1.0)
    value *= config.segment_factors.get(str(profile.get("rfm_segment") or ""), 1.0)
    spend = float(profile.get("monetary") or 0.0)
    factor = 1.0
    for least, step in config.spend_steps:  # ascending: the highest reached wins
        if spend >= least:
            factor = step
    return value * factor


def priority_of(severity: int, value: float, config: CaseConfig) -> tuple[str, float]:
    """(level name, score): score = severity × value; the first level whose `min` it reaches."""
    score = round(severity * value, 4)
    for name, least in config.priorities:
        if score >= least:
            return name, score
    return config.priorities[-1][0], score


def priority_rank(level: str, config: CaseConfig) -> int:
    """0 for the most urgent level, then 1, 2...; unknown levels last."""
    names = [name for name, _ in config.priorities]
    return names.index(level) if level in names else len(names)


def queue_for(touchpoint: str, config: CaseConfig) -> Queue:
    """The first queue naming `touchpoint`, else the default queue."""
    for queue in config.queues:
        if touchpoint in queue.touchpoints:
            return queue
    return config.queue(config.default_queue)


def due_at(created: datetime, queue: Queue) -> datetime:
    return created + timedelta(hours=queue.sla_hours)


def plan_case(
    answer: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
    config: CaseConfig,
    *,
    now: datetime,
    sentiment: float | None = None,
) -> dict[str, Any] | None:
    """The new case's fields for `answer` (None: it opens no case). Times are `now`-based
    (when the answer was recorded), not the answer's own timestamp."""
    opening = opens_case(answer, config, sentiment=sentiment)
    if opening is None:
        return None
    touchpoint = str(answer.get("touchpoint") or "")
    queue = queue_for(touchpoint, config)
    value = customer_value(profile, config)
    level, score = priority_of(opening.severity, value, config)
    return {
        "customer_id": str(answer["customer_id"]),
        "survey": str(answer["survey"]),
        "score": int(answer["score"]),
        "comment": str(answer.get("comment") or ""),
        "touchpoint": touchpoint,
        "channel": str(answer.get("channel") or ""),
        "response_id": str(answer.get("response_id") or ""),
        "trigger": opening.trigger,
        "severity": opening.severity,
        "value": round(value, 4),
        "priority": level,
        "priority_score": score,
        "priority_rank": priority_rank(level, config),
        "queue": queue.name,
        "status": OPEN,
        "created_at": _iso(now),
        "created_ms": int(now.timestamp() * 1000),
        "due_at": _iso(due_at(now, queue)),
        "due_ms": int(due_at(now, queue).timestamp() * 1000),
    }


def check_transition(current: str, new: str) -> None:
    """Raise `IllegalTransition` unless `current → new` is allowed (same status: no change)."""
    if new == current:
        return
    allowed = TRANSITIONS.get(current, frozenset())
    if new not in allowed:
        raise IllegalTransition(
            f"a {current} case cannot become {new}"
            + (f"; allowed: {', '.join(sorted(allowed))}" if allowed else " (it is closed)"),
            current=current,
            requested=new,
            allowed=sorted(allowed),
        )


def is_overdue(case: Mapping[str, Any], now: datetime) -> bool:
    """Not yet resolved or closed, and past its due time."""
    if case.get("status") in TERMINAL or not case.get("due_at"):
        return False
    return parse_iso(str(case["due_at"])) < now


def _iso(ts: datetime) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
