"""The shared tables every answer reads, as the batch publishes them: the item records
(display fields and what the business rules need) and the ranked popular lists (trending
overall, per channel, per item kind, per RFM segment). Used by the publish, batch
`recommend` (pandas and Spark) and model operations."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from recsys.matrix import IdMap, WeightConfig, event_weights
from store.serving import Ranked

POPULAR_N = 500
TRENDING_HALF_LIFE_DAYS = 14.0


def item_records(items: pd.DataFrame) -> list[dict[str, Any]]:
    """The published item table: display fields and what the rules need, JSON-ready."""

    def listify(text: Any) -> list[str]:
        return [t for t in str(text).split(";") if t]

    def iso(ts: Any) -> str | None:
        return None if pd.isna(ts) else pd.Timestamp(ts).isoformat()

    records = []
    for row in items.to_dict("records"):
        records.append(
            {
                "item_id": str(row["item_id"]),
                "kind": str(row["kind"]),
                "title": str(row["title"]),
                "category": str(row["category"]),
                "price": float(row["price"]),
                "margin": float(row["margin"]),
                "tags": listify(row["tags"]),
                "channels": listify(row["channels"]),
                "active_from": iso(row["active_from"]),
                "active_to": iso(row["active_to"]),
                "in_stock": bool(row["in_stock"]),
                "target_segments": listify(row["target_segments"]),
                "min_tier": str(row["min_tier"]),
                "points_cost": int(row["points_cost"]),
                "budget": int(row["budget"]),
            }
        )
    return records


def popular_lists(
    events: pd.DataFrame,
    items: pd.DataFrame,
    segments: pd.DataFrame | None,
    *,
    only: Collection[str] | None = None,
    item_index: np.ndarray | None = None,
) -> dict[str, Ranked]:
    """Ranked popular items: trending overall, per channel, per item kind, per RFM segment and
    per segment for content and offers (`segment:<name>:kind:<kind>`).

    Popularity is time-decayed, weighted interaction (purchases count most), so what is
    hot now outranks what sold well a year ago. `only` (names) builds just those of them
    this would build, each the same list (what one batch run reads); `item_index`: each
    event's row in `items` (-1: none), when the caller has looked it up already.
    """
    weights = popular_weights(events, items, segments, only=only, item_index=item_index)
    return rank_popular(weights)


def rank_popular(weights: dict[str, np.ndarray]) -> dict[str, Ranked]:
    """Each list's items by summed weight, best first (ties: lower item index first), at
    most `POPULAR_N`, items of no positive weight left out."""
    return {name: _top(summed) for name, summed in weights.items()}


def popular_weights(
    events: pd.DataFrame,
    items: pd.DataFrame,
    segments: pd.DataFrame | None,
    *,
    only: Collection[str] | None = None,
    item_index: np.ndarray | None = None,
    now: pd.Timestamp | None = None,
) -> dict[str, np.ndarray]:
    """What `popular_lists` ranks: each list's summed weight per catalogue item. Weights
    add up: the sums over parts of the events (each list missing from a part counting
    zero) are the whole's, given the whole's `now` (the decay's reference: by default the
    latest event given), so Spark sums partitions and ranks once (`rank_popular`)."""

    def wanted(*names: str) -> bool:
        return only is None or any(name in only for name in names)

    n_items = len(items)
    cols = (
        IdMap(items["item_id"].astype(str), kind="item").lookup(events["item_id"].to_numpy())
        if item_index is None
        else np.asarray(item_index, np.int64)
    )
    config = WeightConfig(half_life_days=TRENDING_HALF_LIFE_DAYS)
    weights = np.where(cols >= 0, np.clip(event_weights(events, config, now=now), 0.0, None), 0.0)
    cols = np.where(cols >= 0, cols, 0)

    def summed(mask: np.ndarray) -> np.ndarray:
        return np.bincount(cols[mask], weights=weights[mask], minlength=n_items)

    lists: dict[str, np.ndarray] = {}
    if wanted("global"):
        lists["global"] = summed(np.ones(len(events), bool))
    # each kind ranked on its own: content and offers are too rare to survive a global cut
    kinds = items["kind"].astype(str).to_numpy()
    for kind in pd.unique(kinds):
        if wanted(f"kind:{kind}"):
            lists[f"kind:{kind}"] = summed((kinds == kind)[cols])  # the events' items' kind
    for channel, in_channel in _values(events["channel"]):
        if wanted(f"channel:{channel}"):
            lists[f"channel:{channel}"] = summed(in_channel())
    by_segment = only is None or any(name.startswith("segment:") for name in only)
    if segments is not None and len(segments) and by_segment:
        segment_of = segments.set_index(segments["customer_id"].astype(str))["rfm_segment"]
        labels = _mapped(events["customer_id"], segment_of)
        for name in pd.unique(labels[pd.notna(labels)]):
            if not name:  # prospects have no RFM segment (''): serving reads no such list
                continue
            names = [f"segment:{name}", *(f"segment:{name}:kind:{k}" for k in ("content", "offer"))]
            if not wanted(*names):
                continue
            in_segment = labels == name
            if wanted(names[0]):
                lists[names[0]] = summed(in_segment)
            for kind, named in zip(("content", "offer"), names[1:], strict=True):
                if wanted(named):
                    lists[named] = summed(in_segment & (kinds == kind)[cols])
    return lists


def _mapped(ids: pd.Series, of: pd.Series) -> np.ndarray:
    """`ids.astype(str).map(of).astype(object)` as an array (NaN where `of` has no entry):
    looked up by Arrow's hash table when `ids` are Arrow strings, ~5x faster than a map."""
    column = pa.array(ids) if isinstance(ids.dtype, pd.StringDtype) else None
    strings = column is not None and (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    )
    if column is None or not strings or not of.index.is_unique:
        return ids.astype(str).map(of).astype(object).to_numpy()
    keys = pa.array(of.index.to_numpy(dtype=object), column.type)
    at = pc.index_in(column, value_set=keys).fill_null(-1).to_numpy(zero_copy_only=False)
    values = of.astype(object).to_numpy()
    return np.where(at >= 0, values[np.maximum(at, 0)], np.nan)


def _values(column: pd.Series) -> Iterator[tuple[Any, Callable[[], np.ndarray]]]:
    """Each distinct value of `column.astype(str)` in order of first appearance, with what
    gives the rows holding it (`== value`); a categorical column is read by its codes, not
    as millions of strings (a missing value, NaN, is held by no row, as `==` has it)."""
    if not isinstance(column.dtype, pd.CategoricalDtype):
        values = column.astype(str).to_numpy()
        for value in pd.unique(values):
            yield value, functools.partial(np.equal, values, value)
        return
    names = np.array([*column.cat.categories.astype(str), np.nan], dtype=object)
    codes = column.cat.codes.to_numpy()  # -1 (missing) reads the trailing NaN
    present = pd.unique(codes)
    for value in pd.unique(names[present]):
        yield value, functools.partial(np.isin, codes, present[names[present] == value])


def _top(scores: np.ndarray, n: int = POPULAR_N) -> Ranked:
    order = np.argsort(-scores, kind="stable")[:n]
    order = order[scores[order] > 0]
    return order.astype(np.uint32), scores[order].astype(np.float32)
