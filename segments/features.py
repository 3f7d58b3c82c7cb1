"""Per-customer features as of a date: recency, frequency, monetary, tenure, AOV, purchase
interval, channel shares, top categories, latest survey scores, loyalty.

Everything is vectorised numpy over integer customer codes: customer ids are hashed once
(`pd.factorize`), then each aggregate is a `bincount`/`ufunc.at`/sort over int arrays. That
keeps 20M events in seconds without a second engine (see `bench/segment_speed.py`).

Definitions (all relative to `as_of`; events and feedback after it are ignored):
- `recency_days`: whole days from the last purchase to `as_of` (NaN for prospects).
- `frequency`: distinct `order_id` among purchase events; a purchase with an empty
  `order_id` counts as one order of its own.
- `monetary`: sum of purchase `value`; `aov` = monetary / frequency.
- `interval_days`: median gap in days between the customer's distinct order dates (UTC
  calendar days); `last_gap_days` is the gap before the latest order date and
  `prior_interval_days` the median of the gaps before that one (used by lifecycle).
- `channel_share.<channel>`: share of the customer's events (all types) on that channel.
- `top_categories`: up to three item categories the customer bought most often
  (`;`-separated, ties by name), `top_category` the first.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from contracts.schema import CHANNELS

DAY_NS = 86_400 * 10**9
STRING = pd.StringDtype("pyarrow")
SURVEY_COLUMNS = {"nps": "nps_latest", "csat": "csat_latest", "ces": "ces_latest"}
TOP_N_CATEGORIES = 3


def resolve_as_of(events: pd.DataFrame, as_of: object = None) -> pd.Timestamp:
    """`as_of` as a UTC timestamp; None means the latest event time."""
    if as_of is None:
        if len(events) == 0:
            raise InvalidInput("no events: cannot default --as-of to the latest event time")
        return pd.Timestamp(events["timestamp"].max()).tz_convert("UTC")
    try:
        ts = pd.Timestamp(as_of)  # type: ignore[arg-type]
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"as_of {as_of!r} is not a date or timestamp") from exc
    if ts is pd.NaT:
        raise InvalidInput(f"as_of {as_of!r} is not a date or timestamp")
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def compute_features(
    *,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    items: pd.DataFrame | None = None,
    feedback: pd.DataFrame | None = None,
    as_of: object = None,
) -> pd.DataFrame:
    """One row per customer known as of `as_of` (customers table created by then, plus anyone
    with an event by then); prospects without a purchase are kept with NaN recency."""
    _require(events, ("customer_id", "type", "timestamp"), "events")
    _require(customers, ("customer_id",), "customers")
    cutoff = resolve_as_of(events, as_of)
    cut_ns = cutoff.value
    ts = _ns(events["timestamp"])
    keep = (ts <= cut_ns) & (ts != np.iinfo(np.int64).min)

    ids, codes, rows = _universe(customers, events["customer_id"], keep, cut_ns)
    n = len(ids)
    out: dict[str, object] = {"customer_id": pd.array(ids, dtype=STRING)}

    purchase = keep & _equals(events["type"], "purchase")
    pc = codes[purchase]
    pt = ts[purchase]
    has = np.bincount(pc, minlength=n) > 0
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, pc, pt)
    first = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(first, pc, pt)
    out["recency_days"] = np.where(has, (cut_ns - last) // DAY_NS, np.nan).astype(np.float64)
    frequency = _order_counts(events, purchase, pc, n)
    out["frequency"] = frequency
    value = _column(events, "value", 0.0).to_numpy(np.float64, na_value=0.0)[purchase]
    monetary = np.bincount(pc, weights=value, minlength=n)
    out["monetary"] = monetary
    with np.errstate(invalid="ignore", divide="ignore"):
        out["aov"] = np.where(frequency > 0, monetary / np.maximum(frequency, 1), np.nan)
    out.update(_intervals(pc, pt, n))
    out["first_purchase_at"] = _timestamps(np.where(has, first, np.iinfo(np.int64).min))
    out["last_purchase_at"] = _timestamps(np.where(has, last, np.iinfo(np.int64).min))
    out["tenure_days"] = _tenure(customers, rows, n, codes[keep], ts[keep], cut_ns)
    out.update(_channel_shares(events, keep, codes, n))
    out.update(_top_categories(events, items, purchase, pc, n))
    out.update(_latest_feedback(feedback, ids, cut_ns))
    out.update(_loyalty(customers, rows, n))
    return pd.DataFrame(out)


def rfm_aggregate(events: pd.DataFrame, as_of: object = None) -> pd.DataFrame:
    """Recency, frequency and monetary of purchasers only, same definitions as
    `compute_features`: the lean path when nothing else is needed (and the like-for-like
    figure `bench/segment_speed.py` puts beside DuckDB). Only purchase rows are hashed."""
    _require(events, ("customer_id", "type", "timestamp"), "events")
    cut_ns = resolve_as_of(events, as_of).value
    ts = _ns(events["timestamp"])
    purchase = (ts <= cut_ns) & (ts != np.iinfo(np.int64).min) & _equals(events["type"], "purchase")
    codes, uniques = pd.factorize(events["customer_id"][purchase])
    n = len(uniques)
    pc = codes.astype(np.int64)
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, pc, ts[purchase])
    value = _column(events, "value", 0.0).to_numpy(np.float64, na_value=0.0)[purchase]
    return pd.DataFrame({
        "customer_id": pd.array(np.asarray(uniques, dtype=object), dtype=STRING),
        "recency_days": ((cut_ns - last) // DAY_NS).astype(np.float64),
        "frequency": _order_counts(events, purchase, pc, n),
        "monetary": np.bincount(pc, weights=value, minlength=n),
    })  # fmt: skip


def _require(frame: pd.DataFrame, columns: tuple[str, ...], name: str) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise InvalidInput(f"{name} table lacks required column(s): {', '.join(missing)}")


def _ns(values: pd.Series) -> np.ndarray:
    """Timestamps as int64 nanoseconds since the epoch (UTC); NaT is int64 min."""
    if not pd.api.types.is_datetime64_any_dtype(values):
        raise InvalidInput(f"column {values.name!r} must hold timestamps, not {values.dtype}")
    if values.dt.tz is None:
        values = values.dt.tz_localize("UTC")
    return np.asarray(values.astype("datetime64[ns, UTC]").array.asi8, dtype=np.int64)  # type: ignore[attr-defined]


def _timestamps(ns: np.ndarray) -> pd.Series:
    return pd.Series(pd.to_datetime(ns, utc=True)).astype("datetime64[ns, UTC]")


def _equals(values: pd.Series, word: str) -> np.ndarray:
    return np.asarray((values == word).to_numpy(dtype=bool, na_value=False))


def _column(frame: pd.DataFrame, name: str, default: object) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index)


def _universe(
    customers: pd.DataFrame, event_ids: pd.Series, keep: np.ndarray, cut_ns: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Customer ids (customers-table order, then event-only ids sorted), per event the index
    of its customer in that list (-1 for events after `as_of`), and the customers-table rows
    that made it into the list (those created by `as_of`; unknown creation counts as created).
    """
    rows = np.ones(len(customers), dtype=bool)
    if "created_at" in customers.columns:
        rows = _ns(customers["created_at"]) <= cut_ns  # NaT is int64 min
    table_ids = customers["customer_id"].to_numpy(dtype=object)[rows]
    codes, uniques = pd.factorize(event_ids)
    unique_ids = np.asarray(uniques, dtype=object)
    seen = np.bincount(codes[keep & (codes >= 0)], minlength=len(unique_ids)) > 0
    table_index = pd.Index(table_ids)
    if not table_index.is_unique:
        raise InvalidInput("customers table has duplicate customer_id values")
    where = table_index.get_indexer(unique_ids)
    extra_mask = (where < 0) & seen
    extra = np.sort(unique_ids[extra_mask])
    where[extra_mask] = len(table_ids) + np.searchsorted(extra, unique_ids[extra_mask])
    ids = np.concatenate([table_ids, extra])
    mapped = np.where(codes >= 0, where[codes], -1)
    mapped[~keep] = -1
    return ids, mapped.astype(np.int64), rows


def _order_counts(events: pd.DataFrame, purchase: np.ndarray, pc: np.ndarray, n: int) -> np.ndarray:
    """Distinct (customer, order) pairs per customer; empty order ids are orders of one."""
    orders = _column(events, "order_id", "")[purchase]
    ocodes, uniques = pd.factorize(orders.fillna(""))
    ocodes = ocodes.astype(np.int64)
    empty = np.flatnonzero(np.asarray(uniques, dtype=object) == "")
    span = len(uniques) + len(pc) + 1
    if len(empty):
        lone = ocodes == empty[0]
        ocodes[lone] = len(uniques) + np.arange(int(lone.sum()))
    pairs = pd.unique(pc * span + ocodes)  # hash-based: no sort needed for a count
    return np.bincount(pairs // span, minlength=n).astype(np.int64)


def _intervals(pc: np.ndarray, pt: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Median, last and prior-median gaps (days) between distinct order dates."""
    days = pt // DAY_NS
    base = days.min() if len(days) else 0
    span = int(days.max() - base + 1) if len(days) else 1
    keys = np.unique(pc * span + (days - base))
    cust, day = keys // span, keys % span
    same = cust[1:] == cust[:-1]
    gap_cust = cust[1:][same]
    gaps = (day[1:] - day[:-1])[same].astype(np.float64)
    median = np.full(n, np.nan)
    last_gap = np.full(n, np.nan)
    prior = np.full(n, np.nan)
    if len(gaps):
        series = pd.Series(gaps)
        med = series.groupby(gap_cust).median()
        median[med.index.to_numpy()] = med.to_numpy()
        is_last = np.append(gap_cust[1:] != gap_cust[:-1], True)
        last_gap[gap_cust[is_last]] = gaps[is_last]
        earlier = series[~is_last].groupby(gap_cust[~is_last]).median()
        prior[earlier.index.to_numpy()] = earlier.to_numpy()
    return {"interval_days": median, "last_gap_days": last_gap, "prior_interval_days": prior}


def _tenure(
    customers: pd.DataFrame, rows: np.ndarray, n: int, codes: np.ndarray, ts: np.ndarray, cut: int
) -> np.ndarray:
    """Whole days since `created_at`, or since the first event when it is unknown."""
    start = np.full(n, np.iinfo(np.int64).max)
    np.minimum.at(start, codes, ts)
    if "created_at" in customers.columns:
        created = _ns(customers["created_at"])[rows]
        head = start[: len(created)]
        start[: len(created)] = np.where(created != np.iinfo(np.int64).min, created, head)
    known = start != np.iinfo(np.int64).max
    return np.where(known, np.maximum((cut - start) // DAY_NS, 0), 0).astype(np.float64)


def _channel_shares(
    events: pd.DataFrame, keep: np.ndarray, codes: np.ndarray, n: int
) -> dict[str, np.ndarray | pd.Series]:
    channel = _column(events, "channel", "web")
    if isinstance(channel.dtype, pd.CategoricalDtype):
        names = [str(c) for c in channel.cat.categories]
        ch = channel.cat.codes.to_numpy(np.int64)
    else:
        fac, uniq = pd.factorize(channel.fillna("web"), sort=True)
        names, ch = [str(u) for u in uniq], fac.astype(np.int64)
    names += [c for c in CHANNELS if c not in names]  # stable columns for rules
    k = max(len(names), 1)
    ok = keep & (ch >= 0)
    counts = np.bincount(codes[ok] * k + ch[ok], minlength=n * k).reshape(n, k)
    total = counts.sum(axis=1)
    out: dict[str, np.ndarray | pd.Series] = {"events": total.astype(np.int64)}
    shares = counts / np.maximum(total, 1)[:, None]
    for j, name in enumerate(names):
        out[f"channel_share.{name}"] = shares[:, j]
    main = np.asarray([*names, ""], dtype=object)[np.where(total > 0, counts.argmax(axis=1), k)]
    out["main_channel"] = pd.Series(main, dtype=STRING)
    return out


def _top_categories(
    events: pd.DataFrame, items: pd.DataFrame | None, purchase: np.ndarray, pc: np.ndarray, n: int
) -> dict[str, pd.Series]:
    empty = np.full(n, "", dtype=object)
    if items is None or "category" not in items.columns or "item_id" not in events.columns:
        none = pd.Series(empty, dtype=STRING)
        return {"top_category": none, "top_categories": none.copy()}
    cats, cat_names = pd.factorize(items["category"].astype(STRING).fillna(""), sort=True)
    item_codes, item_uniques = pd.factorize(events["item_id"][purchase])
    lookup = pd.Index(items["item_id"].astype(STRING).to_numpy(dtype=object))
    pos = lookup.get_indexer(pd.Index(np.asarray(item_uniques, dtype=object)))
    per_item = np.where(pos >= 0, cats[pos], -1)
    cat = per_item[item_codes] if len(item_codes) else np.zeros(0, np.int64)
    names = np.asarray(cat_names, dtype=object)
    ok = cat >= 0
    ok &= names[np.where(ok, cat, 0)] != "" if len(names) else ok
    k = max(len(names), 1)
    keys, counts = np.unique(pc[ok] * k + cat[ok], return_counts=True)
    cust, c = keys // k, keys % k
    order = np.lexsort((c, -counts, cust))  # most bought first, then by category name
    cust, c = cust[order], c[order]
    starts = np.flatnonzero(np.r_[True, cust[1:] != cust[:-1]])
    rank = np.arange(len(cust)) - np.repeat(starts, np.diff(np.r_[starts, len(cust)]))
    picks = [empty.copy() for _ in range(TOP_N_CATEGORIES)]
    for r in range(TOP_N_CATEGORIES):
        sel = rank == r
        picks[r][cust[sel]] = names[c[sel]]
    joined = picks[0].copy()
    for extra in picks[1:]:
        joined = np.where(extra != "", joined + ";" + extra, joined)
    return {
        "top_category": pd.Series(picks[0], dtype=STRING),
        "top_categories": pd.Series(joined, dtype=STRING),
    }


def _latest_feedback(
    feedback: pd.DataFrame | None, ids: np.ndarray, cut_ns: int
) -> dict[str, np.ndarray]:
    """Latest score per survey and customer (NaN when the customer never answered)."""
    out = {col: np.full(len(ids), np.nan) for col in SURVEY_COLUMNS.values()}
    if feedback is None or len(feedback) == 0:
        return out
    _require(feedback, ("customer_id", "survey", "score", "timestamp"), "feedback")
    columns = ["customer_id", "survey", "score", "timestamp"]
    frame = feedback.loc[_ns(feedback["timestamp"]) <= cut_ns, columns]
    frame = frame.sort_values("timestamp", kind="stable")
    latest = frame.drop_duplicates(["customer_id", "survey"], keep="last")
    index = pd.Index(ids)
    for survey, col in SURVEY_COLUMNS.items():
        rows = latest[latest["survey"].astype(str) == survey]
        pos = index.get_indexer(rows["customer_id"].to_numpy(dtype=object))
        found = pos >= 0
        out[col][pos[found]] = rows["score"].to_numpy(np.float64, na_value=np.nan)[found]
    return out


def _loyalty(customers: pd.DataFrame, rows: np.ndarray, n: int) -> dict[str, object]:
    """Tier and points from the customers table; event-only customers get none and 0."""
    tier = np.full(n, "none", dtype=object)
    points = np.zeros(n, dtype=np.int64)
    m = int(rows.sum())
    if "loyalty_tier" in customers.columns:
        tier[:m] = customers["loyalty_tier"].astype(str).to_numpy(dtype=object)[rows]
    if "points_balance" in customers.columns:
        values = customers["points_balance"].to_numpy(np.float64, na_value=0.0)[rows]
        points[:m] = values.astype(np.int64)
    return {"loyalty_tier": pd.array(tier, dtype=STRING), "points_balance": points}
