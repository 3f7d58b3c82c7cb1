"""Score tables: one metric per cell of 0–2 dimensions and an optional period, each with its
n, 95% interval, comparison with the previous period and with the rest of the population,
and flags controlled by Benjamini–Hochberg across the whole table.

`prepare_responses` does the per-response work once (metric values, period keys, segment
memberships); `tabulate` groups it any number of ways — the batch prepares once per metric
and tabulates every (by, period) it publishes. `score_table` is both in one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Final

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from insights.stats import Metric, benjamini_hochberg, compare, estimate
from insights.stats import metric as metric_named

DIMENSIONS: Final = ("touchpoint", "stage", "channel", "segment", "tier")
PERIODS: Final = ("day", "week", "month")
RESPONSE_COLUMNS: Final = ("response_id", "customer_id", "survey", "score", "timestamp")
SUMS: Final = ("n", "s1", "s2")  # a cell is summarised by n, Σv and Σv²
OUTPUT_COLUMNS: Final = (
    "metric", "n", "value", "low", "high", "insufficient", "previous", "previous_n",
    "change", "change_p", "change_flag", "rest", "rest_n", "rest_p", "rest_flag",
)  # fmt: skip


@dataclass(frozen=True)
class PreparedResponses:
    """The responses of one metric's survey: dimension columns as categories, the `score`,
    the metric value `v` and `v2` = v², and the period keys `day`, `week`, `month` as
    integer indices (days since 1970-01-01, Monday-start weeks, months); `segments` maps
    response rows (positions in `frame`) to segment names, one row per membership."""

    metric: Metric
    frame: pd.DataFrame
    segments: pd.DataFrame | None


def prepare_responses(
    responses: pd.DataFrame, *, metric: str, memberships: pd.DataFrame | None = None
) -> PreparedResponses:
    """Select the metric's survey and compute everything per response once."""
    m = metric_named(metric)
    missing = [c for c in RESPONSE_COLUMNS if c not in responses.columns]
    if missing:
        raise InvalidInput(f"responses lack column {missing[0]!r}", field=missing[0])
    rows = responses[(responses["survey"] == m.survey).to_numpy(dtype=bool)]
    values = m.values(rows["score"].to_numpy(dtype=np.float64))
    stamps = pd.to_datetime(rows["timestamp"], utc=True).to_numpy(dtype="datetime64[ns]")
    day = stamps.astype("datetime64[D]").astype(np.int64)
    frame = pd.DataFrame(
        {
            "customer_id": rows["customer_id"].to_numpy(dtype=object),
            "score": rows["score"].to_numpy(dtype=np.float64),
            "v": values,
            "v2": values * values,
            "day": day,
            "week": (day + 3) // 7,  # 1970-01-01 was a Thursday: weeks start on Monday
            "month": stamps.astype("datetime64[M]").astype(np.int64),
        }
    )
    for name in DIMENSIONS:
        if name in rows.columns:
            frame[name] = _categories(rows[name])
    return PreparedResponses(m, frame, _segment_rows(frame, memberships))


def with_metric(prepared: PreparedResponses, metric: str) -> PreparedResponses:
    """The same prepared responses read as another metric of the same survey (CSAT share
    and mean, CES mean and share), without preparing them again."""
    m = metric_named(metric)
    if m.survey != prepared.metric.survey:
        raise InvalidInput(f"{metric} reads {m.survey}, not {prepared.metric.survey}",
                           field="metric")  # fmt: skip
    values = m.values(prepared.frame["score"].to_numpy(np.float64))
    return replace(prepared, metric=m, frame=prepared.frame.assign(v=values, v2=values * values))


def _categories(column: pd.Series) -> pd.Categorical:
    """Text as sorted categories; a missing value is the unknown "" (a cell, never dropped)."""
    codes, names = pd.factorize(column.astype("string").fillna(""), sort=True)
    return pd.Categorical.from_codes(codes, categories=pd.Index(names, dtype=object))


def _segment_rows(frame: pd.DataFrame, memberships: pd.DataFrame | None) -> pd.DataFrame | None:
    if memberships is None:
        return None
    for column in ("customer_id", "segment"):
        if column not in memberships.columns:
            raise InvalidInput(f"memberships lack column {column!r}", field=column)
    pairs = memberships[["customer_id", "segment"]].dropna().drop_duplicates()
    codes, customers = pd.factorize(frame["customer_id"])
    member = pd.Index(customers).get_indexer(pd.Index(pairs["customer_id"]))
    pairs, member = pairs[member >= 0], member[member >= 0]
    # every (membership, answer of that customer) pair, from the answers grouped by customer
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=len(customers))
    starts = np.cumsum(counts) - counts
    repeat = counts[member]
    offsets = np.arange(repeat.sum()) - np.repeat(np.cumsum(repeat) - repeat, repeat)
    rows = order[np.repeat(starts[member], repeat) + offsets]
    segment = pd.Series(pairs["segment"].to_numpy(dtype=object).repeat(repeat))
    return pd.DataFrame({"row": rows.astype(np.int64), "segment": _categories(segment)})


def score_table(
    responses: pd.DataFrame,
    *,
    metric: str,
    by: Sequence[str],
    period: str | None = None,
    memberships: pd.DataFrame | None = None,
    min_n: int = 30,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """One row per cell of `by` (× `period`): n, value, interval, previous, rest, flags."""
    prepared = prepare_responses(responses, metric=metric, memberships=memberships)
    return tabulate(prepared, by=by, period=period, min_n=min_n, alpha=alpha)


def tabulate(
    prepared: PreparedResponses,
    *,
    by: Sequence[str],
    period: str | None = None,
    min_n: int = 30,
    alpha: float = 0.05,
) -> pd.DataFrame:
    """The score table of prepared responses (see `score_table`)."""
    by = _check(prepared, by, period)
    m, frame = prepared.metric, prepared.frame
    # a customer in k segments answers once in the rest and k times over the segment cells
    segments = prepared.segments if "segment" in by else None
    rows = segments["row"].to_numpy() if segments is not None else None
    labels, codes = [], []
    for name in by:
        column = segments["segment"] if segments is not None and name == "segment" else frame[name]
        labels.append(np.asarray(column.cat.categories, dtype=object))
        own_codes = column.cat.codes.to_numpy(np.int64)
        codes.append(own_codes if rows is None or name == "segment" else own_codes[rows])
    sizes = [len(names) for names in labels]
    all_periods = frame[period].to_numpy(np.int64) if period else np.zeros(len(frame), np.int64)
    first = int(all_periods.min()) if len(all_periods) else 0
    span = int(all_periods.max()) - first + 1 if len(all_periods) else 1
    if period:
        codes.append((all_periods if rows is None else all_periods[rows]) - first)
        sizes.append(span)
    v, v2 = frame["v"].to_numpy(np.float64), frame["v2"].to_numpy(np.float64)
    if rows is not None:
        v, v2 = v[rows], v2[rows]
    flat = np.ravel_multi_index(codes, sizes) if codes else np.zeros(len(v), np.int64)
    grid = int(np.prod(sizes)) if sizes else 1
    if grid <= 4 * len(v) + 1_000_000:  # counting over every possible cell beats sorting
        dense = _bincount_sums(flat, v, v2, grid)
        cells = np.flatnonzero(dense[0])
        own = [s[cells] for s in dense]
    else:
        cells, inverse = np.unique(flat, return_inverse=True)
        own = _bincount_sums(inverse, v, v2, len(cells))
    keys = np.unravel_index(cells, sizes) if codes else ()
    # the period is the last, fastest-varying index: the same cell a period earlier is code − 1
    total = _bincount_sums(all_periods - first, frame["v"].to_numpy(np.float64),
                           frame["v2"].to_numpy(np.float64), span)  # fmt: skip
    at = keys[-1] if period else np.zeros(len(cells), np.int64)
    rest_sums = [t[at] - o for t, o in zip(total, own, strict=True)]
    prev_sums = [np.zeros(len(cells)) for _ in SUMS]
    if period and len(cells):
        pos = np.minimum(np.searchsorted(cells, cells - 1), len(cells) - 1)
        found = (cells[pos] == cells - 1) & (keys[-1] > 0)
        prev_sums = [np.where(found, o[pos], 0.0) for o in own]
    columns: dict[str, object] = {
        name: names[k] for name, names, k in zip(by, labels, keys, strict=False)
    }
    if period:
        columns["period"] = _period_start(keys[-1] + first, period)
    est = estimate(m, own[0], own[1], own[2], alpha)
    previous = estimate(m, prev_sums[0], prev_sums[1], prev_sums[2], alpha).value
    change_p = _tested(m, own, prev_sums, min_n)
    rest_p = _tested(m, own, rest_sums, min_n)
    flags = benjamini_hochberg(np.concatenate([change_p, rest_p]), alpha)
    columns.update(
        metric=np.full(len(cells), m.name, dtype=object),
        n=own[0].astype(np.int64),
        value=est.value,
        low=est.low,
        high=est.high,
        insufficient=own[0] < min_n,
        previous=previous,
        previous_n=prev_sums[0].astype(np.int64),
        change=est.value - previous,
        change_p=change_p,
        change_flag=flags[: len(cells)],
        rest=estimate(m, rest_sums[0], rest_sums[1], rest_sums[2], alpha).value,
        rest_n=rest_sums[0].astype(np.int64),
        rest_p=rest_p,
        rest_flag=flags[len(cells) :],
    )
    return pd.DataFrame(columns, index=pd.RangeIndex(len(cells)))


def _tested(m: Metric, a: list[np.ndarray], b: list[np.ndarray], min_n: int) -> np.ndarray:
    """p-values of a vs b where both sides have at least `min_n` responses, else NaN."""
    p = compare(m, (a[0], a[1], a[2]), (b[0], b[1], b[2])).p_value
    return np.where((a[0] >= min_n) & (b[0] >= min_n), p, np.nan)


def _bincount_sums(
    groups: np.ndarray, v: np.ndarray, v2: np.ndarray, size: int
) -> list[np.ndarray]:
    """n, Σv and Σv² per group index in 0..size-1."""
    return [
        np.bincount(groups, minlength=size).astype(np.float64),
        np.bincount(groups, weights=v, minlength=size),
        np.bincount(groups, weights=v2, minlength=size),
    ]


def period_starts(keys: np.ndarray, period: str) -> np.ndarray:
    """The first day (datetime64[D]) of each period key of `PreparedResponses.frame`."""
    keys = np.asarray(keys, dtype=np.int64)
    if period == "month":
        return keys.astype("datetime64[M]").astype("datetime64[D]")
    if period == "week":
        return (keys * 7 - 3).astype("datetime64[D]")
    return keys.astype("datetime64[D]")


def _period_start(keys: np.ndarray, period: str) -> np.ndarray:
    """ISO dates of the first day of each period key."""
    return np.datetime_as_string(period_starts(keys, period), unit="D").astype(object)


def _check(prepared: PreparedResponses, by: Sequence[str], period: str | None) -> list[str]:
    by = list(by)
    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown or len(by) > 2 or len(set(by)) != len(by):
        raise InvalidInput(
            f"by must be 0-2 distinct of {', '.join(DIMENSIONS)}; got {by}", field="by"
        )
    if period is not None and period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}", field="period")
    if "segment" in by and prepared.segments is None:
        raise InvalidInput("by segment needs the segment memberships", field="by")
    absent = [b for b in by if b != "segment" and b not in prepared.frame.columns]
    if absent:
        raise InvalidInput(f"responses lack column {absent[0]!r}", field="by")
    return by
