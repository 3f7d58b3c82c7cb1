"""Daily totals the dashboard plots: answers served per channel (`served`) and conversions
that came back carrying a recommendation id, per event type (`converted`).

One hash per name and UTC day, `Keys.global_("daily:NAME:YYYY-MM-DD")`, field -> count,
kept `DAYS_KEPT` days. The writers add to them in the same round trip as their own writes
(plain HINCRBY and EXPIRE, no script): per channel and day for a whole batch of answers
(the API's writer, `api.services.impressions`), per attributed conversion
(`store.attribution`). Each hash is a key of its own, on its own slot on Redis Cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import redis.asyncio as aioredis

from store.keys import Keys

DAYS_KEPT = 90
SERVED = "served"
CONVERTED = "converted"


def day_of(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")


def daily_key(keys: Keys, name: str, day: str) -> str:
    return keys.global_(f"daily:{name}:{day}")


def queue_counts(pipe: Any, keys: Keys, name: str, counts: Mapping[str, Mapping[str, int]]) -> None:
    """Queue the additions `{day: {field: n}}` on `pipe` (a redis-py pipeline or a
    `store.resp.CommandBuffer`): HINCRBY per field, then the day's EXPIRE."""
    for day, fields in counts.items():
        key = daily_key(keys, name, day)
        for field, n in fields.items():
            pipe.hincrby(key, field, n)
        pipe.expire(key, DAYS_KEPT * 86400)


def queue_served(pipe: Any, keys: Keys, answers: Iterable[Any]) -> None:
    """Add answers that showed something (`store.answers.Answer`s) to their day's count per
    channel, after that batch's own writes."""
    per_day: dict[int, dict[str, int]] = {}
    for answer in answers:
        if answer.shown:
            channels = per_day.setdefault(int(answer.now // 86400), {})
            channels[answer.channel] = channels.get(answer.channel, 0) + 1
    queue_counts(pipe, keys, SERVED, {day_of(d * 86400): n for d, n in per_day.items()})


def last_days(days: int, now: float) -> list[str]:
    """The `days` UTC days up to the one holding `now`, oldest first."""
    today = datetime.fromtimestamp(now, UTC).date()
    return [(today - timedelta(days=back)).isoformat() for back in range(days - 1, -1, -1)]


async def read_days(
    client: aioredis.Redis, keys: Keys, name: str, days: Sequence[str]
) -> list[dict[str, int]]:
    """The counts of each day in `days` (empty for a day with none), in one round trip."""
    pipe = client.pipeline(transaction=False)
    for day in days:
        pipe.hgetall(daily_key(keys, name, day))
    raw = await pipe.execute()
    return [{k.decode(): int(v) for k, v in (r or {}).items()} for r in raw]
