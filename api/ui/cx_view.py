"""Customer experience page: NPS/CSAT/CES by touchpoint and journey stage with their 95%
intervals, weekly trends, the journey's emotion curve, drivers as importance × performance
and the themes of the comments — all through the services `/v1/insights/*` answer with
(`api.services.insights`, `api.services.insights_journey`). Nothing published: an empty page
with the hint to run the batch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson

from api.deps import AppParts
from api.services import insights as service
from api.services.insights_journey import journey
from api.ui.views import Parts
from insights.live import Count, live_scores
from insights.stats import METRICS
from store.live_feedback import read_days

SHOWN_METRICS = ("nps", "csat", "ces")  # the three a CX team reads
TREND_WEEKS = 26
THEMES_SHOWN = 8
EXAMPLES_SHOWN = 3
QUADRANTS = {
    "fix first": "#c0392b",
    "keep up": "#1f8a4c",
    "low priority": "#6c757d",
    "possible overkill": "#b7791f",
}  # the quadrant names of `insights.drivers`, in its order; colours as the CSS


def value_range(metric: str) -> tuple[float, float]:
    """The natural scale of a metric's value (NPS -100..100, shares 0..100, means 1..7)."""
    m = METRICS[metric]
    low, high = m.bounds
    return low * m.factor, high * m.factor


def interval_bar(cell: dict[str, Any], metric: str) -> dict[str, float] | None:
    """Where a cell's value and 95% interval sit on its metric's whole scale (percent of
    the bar's width)."""
    if cell.get("value") is None or cell.get("low") is None or cell.get("high") is None:
        return None
    low, high = value_range(metric)

    def at(v: float) -> float:
        return round(100 * max(0.0, min(1.0, (float(v) - low) / (high - low))), 2)

    return {"left": at(cell["low"]), "width": round(at(cell["high"]) - at(cell["low"]), 2),
            "point": at(cell["value"])}  # fmt: skip


async def _table(parts: AppParts, found: Parts, by: str) -> list[dict[str, Any]]:
    """One row per touchpoint (or stage) with a cell per metric."""
    rows: dict[str, dict[str, Any]] = {}
    for metric in SHOWN_METRICS:
        answer = await found.get(f"{metric} by {by}", service.scores(
            parts.serving, metric=metric, by=by, period=None, start=None, end=None,
            segment=None))  # fmt: skip
        for raw in answer.rows if answer else []:
            cell = orjson.loads(raw)
            row = rows.setdefault(str(cell.get(by)), {"name": str(cell.get(by)), "cells": {}})
            row["cells"][metric] = {**cell, "bar": interval_bar(cell, metric)}
    return list(rows.values())


async def _trends(parts: AppParts, found: Parts, until: date | None) -> dict[str, Any]:
    """Per metric, a weekly line per journey stage over the last `TREND_WEEKS` weeks of the
    batch's data (weeks without answers are gaps)."""
    start = until - timedelta(weeks=TREND_WEEKS) if until else None
    out: dict[str, Any] = {}
    for metric in SHOWN_METRICS:
        answer = await found.get(f"{metric} trend", service.scores(
            parts.serving, metric=metric, by="stage", period="week", start=start, end=until,
            segment=None))  # fmt: skip
        rows = [orjson.loads(r) for r in answer.rows] if answer else []
        weeks = sorted({str(r["period"])[:10] for r in rows})
        if len(weeks) < 2:
            continue
        at = {w: i for i, w in enumerate(weeks)}
        series: dict[str, list[float | None]] = {}
        for r in rows:
            line = series.setdefault(str(r["stage"]), [None] * len(weeks))
            line[at[str(r["period"])[:10]]] = r.get("value")
        x = [int(datetime.fromisoformat(w).replace(tzinfo=UTC).timestamp()) for w in weeks]
        out[metric] = {"x": x, "series": series}
    return out


def _emotion(stages: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The emotion curve in journey order: satisfaction (0..1) and comment sentiment (-1..1)."""
    if len(stages) < 2:
        return None
    emotion = [s.get("emotion") or {} for s in stages]
    return {"x": list(range(len(stages))), "labels": [s["stage"] for s in stages],
            "series": {"satisfaction (0..1)": [e.get("satisfaction") for e in emotion],
                       "sentiment (-1..1)": [e.get("sentiment") for e in emotion]}}  # fmt: skip


def _quadrants(drivers: dict[str, Any] | None) -> dict[str, Any] | None:
    """Importance × performance as a scatter: x = performance (share satisfied, ascending),
    one series of importances per quadrant (None where a point belongs to another)."""
    points = sorted((drivers or {}).get("importance_performance") or [],
                    key=lambda d: float(d.get("performance") or 0))  # fmt: skip
    if not points:
        return None
    present = {str(d.get("quadrant")) for d in points}
    quadrants = [q for q in QUADRANTS if q in present] + sorted(present - set(QUADRANTS))
    return {"x": [d.get("performance") for d in points], "xLabel": "performance",
            "colours": {q: c for q, c in QUADRANTS.items() if q in present},
            "series": {q: [d.get("weight") if str(d.get("quadrant")) == q else None
                           for d in points] for q in quadrants}}  # fmt: skip


def _themes(listed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**t, "examples": list(t.get("examples") or [])[:EXAMPLES_SHOWN],
             "terms": list(t.get("terms") or [])[:8]}
            for t in listed[:THEMES_SHOWN]]  # fmt: skip


async def cx_page(parts: AppParts) -> dict[str, Any]:
    found = Parts()
    state = parts.serving
    path = await found.get("journey", journey(state))
    if path is None or path.get("version") is None:  # unreadable, or nothing published
        return {"problems": found.problems, "version": None, "unread": path is None,
                "hint": path.get("hint") if path else None}  # fmt: skip
    summary = await found.get("summary", service.document(state, "summary")) or {}
    facts = summary.get("data") or {}
    until = _day(facts.get("until"))
    drivers = await found.get("drivers", service.document(state, "drivers/nps", metric="nps"))
    themes = await found.get("themes", service.themes(state, touchpoint=None, stage=None))
    batch_stages = list((path.get("batch") or {}).get("stages") or [])
    return {
        "problems": found.problems,
        "version": path["version"],
        "built_at": path.get("built_at"),
        "facts": facts,
        "metrics": [
            {"name": m, "title": METRICS[m].title, "unit": METRICS[m].unit, "range": value_range(m)}
            for m in SHOWN_METRICS
        ],
        "min_n": facts.get("min_n"),
        "by_touchpoint": await _table(parts, found, "touchpoint"),
        "by_stage": _stage_rows(batch_stages),
        "trends": await _trends(parts, found, until),
        "emotion": _emotion(batch_stages),
        "live": path.get("live"),
        "drivers": (drivers or {}).get("data"),
        "quadrants": _quadrants((drivers or {}).get("data")),
        "themes": _themes((themes or {}).get("themes") or []),
        "n_comments": facts.get("comments"),
    }


def _stage_rows(stages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The journey document's stages as table rows, in journey order."""
    return [{"name": s["stage"], "n": s.get("n"),
             "cells": {m: {**s[m], "bar": interval_bar(s[m], m)}
                       for m in SHOWN_METRICS if isinstance(s.get(m), dict)}}
            for s in stages]  # fmt: skip


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


NPS_DAYS = 30


async def nps_today(parts: AppParts, today: date | None = None) -> dict[str, Any] | None:
    """For the overview, once insights exist: NPS of today's answers (the live counts
    `POST /v1/feedback` keeps) beside the NPS of the last `NPS_DAYS` days the batch covers
    (its daily NPS pooled by n: the NPS of all those days' answers). None: nothing published."""
    state = parts.serving
    _, version = await service.live(state)
    if version is None:
        return None
    day = today or datetime.now(UTC).date()
    assert state.client is not None  # `live` checked it
    counted = await service.redis_call(read_days(state.client, state.keys, [day.isoformat()]))
    counts = [Count(c.survey, c.score, c.touchpoint, c.count) for c in counted[day.isoformat()]]
    # no stage map given: every answer falls in the one stage "", i.e. all answers pooled
    pooled = live_scores(counts, {}, [])["stages"]
    summary = (await service.document(state, "summary")).get("data") or {}
    end = min(day, _day(summary.get("until")) or day)
    start = end - timedelta(days=NPS_DAYS - 1)
    answer = await service.scores(state, metric="nps", by="", period="day", start=start,
                                  end=end, segment=None)  # fmt: skip
    rows = [orjson.loads(r) for r in answer.rows]
    n = sum(int(r.get("n") or 0) for r in rows)
    value = sum(float(r["value"]) * int(r["n"]) for r in rows if r.get("value") is not None)
    return {
        "version": version,
        "today": day.isoformat(),
        "today_nps": pooled[0].get("nps") if pooled else None,
        "today_answers": pooled[0].get("responses", 0) if pooled else 0,
        "window": {
            "from": start.isoformat(),
            "to": end.isoformat(),
            "n": n,
            "value": value / n if n else None,
        },
    }
