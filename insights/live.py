"""Live scores from score histograms: what arrived since the batch, per touchpoint and stage.

The API counts every new survey answer by (survey, score, touchpoint) and day
(`store.live_feedback`); this turns those counts into the same metrics, with the same
intervals, as the batch (`insights.stats`), so the journey view is never a day behind.
Pure: counts in, JSON-ready rows out.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any, NamedTuple

import numpy as np

from insights.stats import METRICS, estimate

LIVE_WINDOW_DAYS = 7  # at most this many days are read live (the counters keep eight)


class Count(NamedTuple):
    survey: str
    score: int
    touchpoint: str
    answers: int


def live_days(today: date, batch_until: date | None) -> list[str]:
    """The days to read live: after the batch's last day through today, at most a week."""
    first = today - timedelta(days=LIVE_WINDOW_DAYS - 1)
    if batch_until is not None:
        first = max(first, batch_until + timedelta(days=1))
    span = (today - first).days + 1
    return [(first + timedelta(days=i)).isoformat() for i in range(max(span, 0))]


def live_scores(
    counts: Iterable[Count], stage_of: Mapping[str, str], stages: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """`{"touchpoints": [...], "stages": [...]}`: per touchpoint (and per stage, in journey
    order; stage "" = touchpoints the map does not know) every metric with n, value and
    its 95% interval; cells without answers are left out."""
    by_touchpoint: dict[str, list[Count]] = defaultdict(list)
    by_stage: dict[str, list[Count]] = defaultdict(list)
    for c in counts:
        by_touchpoint[c.touchpoint].append(c)
        by_stage[stage_of.get(c.touchpoint, "")].append(c)
    stage_order = [s for s in stages if s in by_stage] + sorted(set(by_stage) - set(stages))
    return {
        "touchpoints": [
            {"touchpoint": tp, "stage": stage_of.get(tp, ""), **_metrics(by_touchpoint[tp])}
            for tp in sorted(by_touchpoint)
        ],
        "stages": [{"stage": s, **_metrics(by_stage[s])} for s in stage_order],
    }


def _metrics(counts: list[Count]) -> dict[str, Any]:
    out: dict[str, Any] = {"responses": sum(c.answers for c in counts)}
    for name, m in METRICS.items():
        mine = [c for c in counts if c.survey == m.survey]
        weights = np.array([c.answers for c in mine], dtype=np.float64)
        values = m.values(np.array([c.score for c in mine], dtype=np.float64))
        n = float(weights.sum())
        if n == 0:
            continue
        est = estimate(m, [n], [float(weights @ values)], [float(weights @ (values * values))])
        out[name] = {
            "n": int(n),
            "value": _round(est.value[0]),
            "low": _round(est.low[0]),
            "high": _round(est.high[0]),
        }
    return out


def _round(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 2)
