"""The journey view: the batch's per-stage scores and emotion curve, plus what arrived since.

The batch publishes `journey` (per stage, in order), `journey_map` (stages and each
touchpoint's stage) and `summary` (with the last day its data covers). The live part adds
the answers counted by `POST /v1/feedback` on the days after that one, through today
(`insights.live`), so the view is never a day behind; the heavy parts (drivers, themes)
stay batch-only.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from api.services import insights as service
from api.state import ServingState
from insights.journey import DEFAULT_STAGES
from insights.live import Count, live_days, live_scores
from store.live_feedback import read_days


async def journey(state: ServingState, *, today: date | None = None) -> dict[str, Any]:
    reader, version = await service.live(state)
    batch: Any = None
    journey_map: dict[str, Any] = {}
    summary: dict[str, Any] = {}
    built_at = None
    if version is not None:
        batch = await service.CACHE.get(reader, version, "journey")
        journey_map = await service.CACHE.get(reader, version, "journey_map") or {}
        summary = await service.CACHE.get(reader, version, "summary") or {}
        built_at = await service.CACHE.built_at(reader, version)
    stages = list(journey_map.get("stages") or DEFAULT_STAGES)
    stage_of = {n: str(t.get("stage", "")) for n, t in journey_map.get("touchpoints", {}).items()}
    days = live_days(today or datetime.now(UTC).date(), _day(summary.get("until")))
    assert state.client is not None  # `live` checked it
    counted = await service.redis_call(read_days(state.client, state.keys, days))
    counts = [Count(c.survey, c.score, c.touchpoint, c.count) for day in days for c in counted[day]]
    out: dict[str, Any] = {
        "version": version,
        "built_at": built_at,
        "stages": stages,
        "batch": batch,
        "live": {
            "days": days,
            "note": "answers posted since the batch's last day, counted as they arrive",
            **live_scores(counts, stage_of, stages),
        },
    }
    if version is None:
        out["hint"] = service.HINT
    return out


def _day(value: Any) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None
