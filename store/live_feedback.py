"""Live survey counts: every new answer posted to `POST /v1/feedback` is counted at once, so
the journey view is never a day behind the batch.

Key: `Keys.feedback_day(DATE)` (the answer's UTC day), a hash of
`<survey>:<score>:<touchpoint>` → count: a histogram of scores per survey and touchpoint.
A histogram rather than promoter or mean counters keeps storage free of domain decisions:
the reader (`api.services.insights_live`) turns it into NPS, CSAT and CES with the one
definition in `insights.stats`. Queued on the intake's own pipeline (one HINCRBY and one
EXPIRE per answer, no extra round trip); days expire after `LIVE_DAYS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis

from store.keys import Keys

LIVE_DAYS = 8  # a day's counts outlive it by a week: the batch has caught up long before
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class LiveCount:
    """How many answers of `survey` gave `score` at `touchpoint` ("" = none named)."""

    survey: str
    score: int
    touchpoint: str
    count: int


def count_answer(pipe: Any, keys: Keys, response: dict[str, Any]) -> None:
    """Queue on a (sync or async) pipeline: count one new answer. `response` has survey,
    score, touchpoint and an ISO timestamp (its first ten characters are the UTC day)."""
    key = keys.feedback_day(str(response["timestamp"])[:10])
    field = f"{response['survey']}:{int(response['score'])}:{response.get('touchpoint') or ''}"
    pipe.hincrby(key, field, 1)
    pipe.expire(key, LIVE_DAYS * DAY_SECONDS)


def decode_day(raw: dict[bytes, bytes] | None) -> list[LiveCount]:
    """One day's hash → its counts (fields that do not parse are skipped)."""
    out = []
    for name, value in (raw or {}).items():
        survey, _, rest = name.decode("utf-8", "replace").partition(":")
        score, _, touchpoint = rest.partition(":")
        if survey and score.lstrip("-").isdigit():
            out.append(LiveCount(survey, int(score), touchpoint, int(value)))
    return out


async def read_days(
    client: aioredis.Redis, keys: Keys, days: Sequence[str]
) -> dict[str, list[LiveCount]]:
    """The counts of each of `days` (`YYYY-MM-DD`), in one round trip."""
    if not days:
        return {}
    pipe = client.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(keys.feedback_day(day))
    replies = await pipe.execute()
    return {day: decode_day(raw) for day, raw in zip(days, replies, strict=True)}
