"""Did closing the loop help? Timing of follow-up cases per queue, and the next NPS of
customers whose case was resolved against those whose case was not. Pure: cases and answers
in, a JSON-ready dict out.

- time to first contact (`contacted_at - created_at`) and to resolution (`resolved_at -
  created_at`), hours, median and p90, per queue;
- share resolved within SLA: resolved by `due_at`, among the cases whose SLA has run out or
  that were resolved (an open case not yet due is not counted either way);
- next NPS: per customer their newest case, and their latest NPS answer given after it was
  opened; mean score per group (resolved / not resolved) with a 95% t interval, the
  difference with Welch's interval, and the NPS (% promoters − % detractors) per group.
This is observational: who gets resolved is not random (see `WARNING`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np
from scipy import stats

from insights.followup import RESOLVED, parse_iso
from insights.stats import METRICS

WARNING = (
    "Observational, not an experiment: customers whose case was resolved differ from the "
    "others (reachable, less angry, more valuable), so the gap in their next NPS is not the "
    "effect of resolving. To measure the effect, run an A/B experiment with the experiments "
    "module: e.g. hold out a random share of cases from recovery offers (a variant with a "
    "rules profile without the recovery reaction, `touchpoint experiments apply`) and compare "
    "the next NPS of the two variants."
)


def _hours(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (parse_iso(end) - parse_iso(start)).total_seconds() / 3600


def _summary(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"n": 0, "median": None, "p90": None}
    data = np.asarray(values, np.float64)
    return {"n": len(values), "median": round(float(np.median(data)), 3),
            "p90": round(float(np.percentile(data, 90)), 3)}  # fmt: skip


def timing(cases: Sequence[Mapping[str, Any]], now: datetime) -> dict[str, Any]:
    """Per queue: cases, first contact and resolution hours (median, p90), share in SLA."""
    queues: dict[str, list[Mapping[str, Any]]] = {}
    for case in cases:
        queues.setdefault(str(case.get("queue", "")), []).append(case)
    out = {}
    for name, members in sorted(queues.items()):
        contact = [h for c in members if (h := _hours(c.get("created_at"), c.get("contacted_at")))
                   is not None]  # fmt: skip
        resolve = [h for c in members if (h := _hours(c.get("created_at"), c.get("resolved_at")))
                   is not None]  # fmt: skip
        judged = within = 0
        for c in members:
            due = parse_iso(str(c["due_at"])) if c.get("due_at") else None
            resolved_at = parse_iso(str(c["resolved_at"])) if c.get("resolved_at") else None
            if resolved_at is not None or (due is not None and due < now):
                judged += 1
                within += int(resolved_at is not None and due is not None and resolved_at <= due)
        out[name] = {
            "cases": len(members),
            "open": sum(c.get("status") in ("open", "contacted") for c in members),
            "hours_to_first_contact": _summary(contact),
            "hours_to_resolution": _summary(resolve),
            "within_sla": {"n": judged, "share": round(within / judged, 4) if judged else None},
        }
    return out


NPS = METRICS["nps"]


def _group(scores: Sequence[int]) -> dict[str, Any]:
    n = len(scores)
    if not n:
        return {"n": 0, "mean": None, "low": None, "high": None, "nps": None}
    data = np.asarray(scores, np.float64)
    mean = float(data.mean())
    low = high = None
    if n > 1:
        half = float(stats.t.ppf(0.975, n - 1) * data.std(ddof=1) / math.sqrt(n))
        low, high = round(mean - half, 3), round(mean + half, 3)
    nps = NPS.factor * float(NPS.values(data).mean())  # % promoters - % detractors
    return {"n": n, "mean": round(mean, 3), "low": low, "high": high, "nps": round(nps, 1)}


def welch(a: Sequence[int], b: Sequence[int]) -> dict[str, Any] | None:
    """Mean of `a` minus mean of `b`, Welch's 95% interval and p-value (None: too few)."""
    if len(a) < 2 or len(b) < 2:
        return None
    x, y = np.asarray(a, np.float64), np.asarray(b, np.float64)
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    se = math.sqrt(va + vb)
    diff = float(x.mean() - y.mean())
    if se == 0:
        return {"diff": round(diff, 3), "low": None, "high": None, "p_value": None}
    df = (va + vb) ** 2 / (va**2 / (len(x) - 1) + vb**2 / (len(y) - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    p = float(2 * stats.t.sf(abs(diff / se), df))
    return {"diff": round(diff, 3), "low": round(diff - half, 3), "high": round(diff + half, 3),
            "p_value": round(p, 4)}  # fmt: skip


def next_nps(
    cases: Sequence[Mapping[str, Any]], latest_nps: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Resolved vs not: the latest NPS answer given after each customer's newest case.
    `latest_nps`: customer id → their latest NPS answer (score, timestamp, response_id)."""
    newest: dict[str, Mapping[str, Any]] = {}
    for case in cases:
        cid = str(case["customer_id"])
        if cid not in newest or str(case["created_at"]) > str(newest[cid]["created_at"]):
            newest[cid] = case
    resolved: list[int] = []
    other: list[int] = []
    for cid, case in newest.items():
        answer = latest_nps.get(cid)
        if not answer or answer.get("response_id") == case.get("response_id"):
            continue
        if parse_iso(str(answer["timestamp"])) <= parse_iso(str(case["created_at"])):
            continue
        (resolved if case.get("status") == RESOLVED else other).append(int(answer["score"]))
    return {
        "resolved": _group(resolved),
        "not_resolved": _group(other),
        "difference_of_means": welch(resolved, other),
        "warning": WARNING,
    }


def report(
    cases: Sequence[Mapping[str, Any]],
    latest_nps: Mapping[str, Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    return {
        "cases": len(cases),
        "queues": timing(cases, now),
        "next_nps": next_nps(cases, latest_nps),
    }
