"""Experiments pages: the definitions with their status, and one experiment's results the way
A/B teams read them — per variant and metric: value, absolute and relative lift with its 95%
interval drawn as a bar around zero, p-value, chance to beat control, the SRM check and
CUPED (`api.services.experiment_admin`, as `GET /v1/experiments/{key}/results`)."""

from __future__ import annotations

from typing import Any

from api.deps import AppParts
from api.services import experiment_admin as admin
from api.services.experiment_serving import runtime_for
from api.ui.views import Parts
from experiments.timeline import cohort_timeline

METRICS = (  # (results field, label, lift field)
    ("conversion_rate", "Conversion rate", "conversion_rate_lift"),
    ("revenue_per_user", "Revenue per user", "revenue_per_user_lift"),
    ("revenue_per_user", "Revenue per user (CUPED)", "revenue_per_user_lift_cuped"),
)
NEXT_STATUS = {"draft": ("running",), "running": ("stopped",), "stopped": ("running",)}


def interval_bar(low: float | None, high: float | None, point: float | None,
                 scale: float) -> dict[str, Any] | None:  # fmt: skip
    """Where a relative-lift interval sits on a bar spanning [-scale, +scale] (percent of
    the bar's width; zero in the middle)."""
    if low is None or high is None or point is None or scale <= 0:
        return None

    def at(value: float) -> float:
        return round(50 + 50 * max(-1.0, min(1.0, value / scale)), 2)

    return {"left": at(low), "width": round(at(high) - at(low), 2), "point": at(point),
            "sign": "up" if low > 0 else "down" if high < 0 else "flat"}  # fmt: skip


def metric_rows(variants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per (metric, variant) with its lift interval placed on a shared scale."""
    rows = []
    for field, label, lift_field in METRICS:
        lifts = [v.get(lift_field) for v in variants]
        bounds = [abs(x) for lift in lifts if lift for x in lift["relative_ci"] if x is not None]
        scale = max(bounds, default=0.0) * 1.1 or 0.1
        if lift_field.endswith("cuped") and not any(lifts):
            continue  # no pre-period spend: no CUPED row
        for variant, lift in zip(variants, lifts, strict=True):
            rel = lift["relative_ci"] if lift else (None, None)
            rows.append({
                "metric": label, "variant": variant["name"], "control": variant["is_control"],
                "value": variant.get(field), "users": variant["users"], "lift": lift,
                "bar": interval_bar(rel[0], rel[1], lift["relative"] if lift else None, scale),
                "scale": scale,
                "beat": variant.get("prob_beat_control") if field == "conversion_rate" else None,
            })  # fmt: skip
    return rows


async def experiments_page(parts: AppParts) -> dict[str, Any]:
    found = Parts()
    defs = (
        await found.get("experiments", admin.definitions(runtime_for(parts.serving), force=True))
        or {}
    )
    rows = [{"key": e.key, "status": e.status, "description": e.description,
             "variants": [v.name for v in e.variants], "control": e.control,
             "next": NEXT_STATUS.get(e.status, ())}
            for e in sorted(defs.values(), key=lambda e: e.key)]  # fmt: skip
    return {"problems": found.problems, "experiments": rows}


async def experiment_page(parts: AppParts, key: str) -> dict[str, Any]:
    found = Parts()
    runtime = runtime_for(parts.serving)
    exp = await found.get("experiment", admin.definition(runtime, key))
    rows = await found.get("results", admin.customer_rows(runtime, key)) if exp else None
    results = (
        await found.get("results", admin.results(runtime, exp, rows)) if exp and rows else None
    )
    timeline = None
    if exp is not None and rows is not None:
        line = cohort_timeline(variants=rows.variants, first_exposure=rows.first_exposure,
                               conversions=rows.conversions, control=exp.control,
                               names=[v.name for v in exp.variants])  # fmt: skip
        if len(line.days) >= 2:  # a line needs two days
            timeline = {"entered": {"x": line.days, "series": line.entered},
                        "lift": {"x": line.days, "series": line.cumulative_lift}}  # fmt: skip
    body = results.as_dict() if results else None
    variants: list[dict[str, Any]] = list(body["variants"]) if body else []  # type: ignore[call-overload]
    return {
        "problems": found.problems,
        "key": key,
        "experiment": exp,
        "next": NEXT_STATUS.get(exp.status, ()) if exp else (),
        "results": body,
        "rows": metric_rows(variants),
        "timeline": timeline,
        "srm": bool(body and body.get("srm")),
        "cuped": body.get("cuped_variance_reduction") if body else None,
    }
