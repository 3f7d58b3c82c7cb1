"""The JSON-ready documents of `insights.build`: score tables, the journey, the drivers.
Values are plain Python (NaN → None) so the store can publish them and the API return them
as they are."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Final

import numpy as np
import pandas as pd

from insights.drivers import (
    SATISFACTION,
    decompose_change,
    driver_frame,
    importance_performance,
    key_drivers,
)
from insights.scores import PreparedResponses, period_starts
from insights.stats import METRICS, Metric

JOURNEY_METRICS: Final = ("nps", "csat", "csat_mean", "ces", "ces_easy")
CHANGE_BY: Final = ("touchpoint", "stage", "channel", "tier")
MIN_DRIVER_CUSTOMERS: Final = 30
ALL: Final = "all"
ROUNDED: Final = ("value", "low", "high", "previous", "change", "rest")
P_VALUES: Final = ("change_p", "rest_p")


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values; NaN and NaT become None."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        if column.dtype.kind == "f":
            values = column.to_numpy(np.float64)
            boxed = values.astype(object)
            boxed[np.isnan(values)] = None
            column_values = boxed.tolist()
        elif column.dtype.kind in "iub":
            column_values = column.tolist()
        else:
            column_values = column.astype(object).tolist()
            if column.isna().any():
                column_values = [None if _missing(v) else v for v in column_values]
        columns.append(column_values)
    names = [str(c) for c in frame.columns]
    return [dict(zip(names, row, strict=True)) for row in zip(*columns, strict=True)]


def _missing(value: object) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def score_document(
    m: Metric, by: Sequence[str], period: str | None, table: pd.DataFrame, min_n: int
) -> dict[str, Any]:
    """A score table as published: figures to 4 decimals, p-values to 3 significant digits
    (the flags were decided on the exact values); a day-by-segment table has ~10^4 rows."""
    shown = table.assign(**{c: table[c].round(4) for c in ROUNDED if c in table.columns})
    shown = shown.assign(**{c: _significant(table[c].to_numpy(np.float64)) for c in P_VALUES
                            if c in table.columns})  # fmt: skip
    return {"metric": m.name, "title": m.title, "unit": m.unit, "survey": m.survey,
            "by": list(by), "period": period or ALL, "min_n": min_n,
            "rows": records(shown)}  # fmt: skip


def _significant(values: np.ndarray, digits: int = 3) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 10.0 ** (digits - 1 - np.floor(np.log10(np.abs(values))))
        rounded = np.round(values * scale) / scale
    return np.where(np.isfinite(scale) & (values != 0), rounded, values)


def journey_document(
    by_stage: Mapping[str, pd.DataFrame],
    stages: Sequence[str],
    curve: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    """Per stage in journey order: every metric with value, interval and n, and the emotion
    curve's point (None when the text analysis did not run). Stages without answers are
    listed with n = 0."""
    indexed = {name: table.set_index("stage") for name, table in by_stage.items()}
    points = {point["stage"]: point for point in curve or []}
    rows = []
    for stage in stages:
        scores: dict[str, Any] = {}
        for name in JOURNEY_METRICS:
            table = indexed[name]
            if stage in table.index:
                row = table.loc[stage]
                scores[name] = {k: _plain(row[k]) for k in ("value", "low", "high", "n",
                                                            "insufficient")}  # fmt: skip
            else:
                scores[name] = {"value": None, "low": None, "high": None, "n": 0,
                                "insufficient": True}  # fmt: skip
        answered = sum(scores[s]["n"] for s in ("nps", "csat", "ces"))
        rows.append({"stage": stage, "n": answered, **scores, "emotion": points.get(stage)})
    return {"stages": rows, "metrics": list(JOURNEY_METRICS)}


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        value = value.item()
    return None if _missing(value) else value


def driver_document(
    responses: pd.DataFrame,
    customers: pd.DataFrame | None,
    events: pd.DataFrame | None,
    memberships: pd.DataFrame | None,
    nps: PreparedResponses,
    period: str,
    notes: list[str],
) -> dict[str, Any]:
    """Key drivers of the latest NPS, importance × performance of the touchpoints, and the
    change between the last two periods split into mix and rate."""
    doc: dict[str, Any] = {
        "metric": "nps",
        "target": "each customer's latest NPS answer (0-10)",
        "n": 0, "r2": None, "drivers": [], "importance_performance": [], "change": None,
    }  # fmt: skip
    frame = driver_frame(responses, customers if customers is not None else pd.DataFrame(),
                         events=events, memberships=memberships)  # fmt: skip
    if len(frame) < MIN_DRIVER_CUSTOMERS:
        notes.append(f"{len(frame)} customers answered NPS: drivers need {MIN_DRIVER_CUSTOMERS}")
    else:
        drivers = key_drivers(frame)
        performance = frame[[c for c in frame.columns if c.startswith(SATISFACTION)]].mean()
        view = importance_performance(drivers, performance)
        doc.update(n=int(drivers.attrs["n"]), r2=_plain(drivers.attrs["r2"]),
                   drivers=records(drivers), importance_performance=records(view))  # fmt: skip
    doc["change"] = _change(responses, nps, period)
    return doc


def _change(responses: pd.DataFrame, nps: PreparedResponses, period: str) -> dict[str, Any] | None:
    """NPS of the last period present against the one before, split by each dimension."""
    keys = nps.frame[period].to_numpy(np.int64) if len(nps.frame) else np.array([], np.int64)
    if len(keys) == 0 or keys.min() == keys.max():
        return None
    last = int(keys.max())
    after = (_start(last, period), _start(last + 1, period))
    before = (_start(last - 1, period), after[0])
    parts = {
        name: decompose_change(responses, metric="nps", by=name, before=before, after=after)
        for name in CHANGE_BY
    }
    first = next(iter(parts.values()))
    return {
        "period": period,
        "before": [before[0].date().isoformat(), before[1].date().isoformat()],
        "after": [after[0].date().isoformat(), after[1].date().isoformat()],
        "total": _plain(float(first["total"].sum())) if len(first) else None,
        "by": {name: records(table) for name, table in parts.items()},
        "note": "mix = who answered (each group's share), rate = how they felt; they sum to "
        "the total change; the last period may be incomplete",
    }


def _start(key: int, period: str) -> pd.Timestamp:
    return pd.Timestamp(period_starts(np.array([key]), period)[0], tz="UTC")


__all__ = ["METRICS", "driver_document", "journey_document", "records", "score_document"]
