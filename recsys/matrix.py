"""Interaction matrix (customers x items, CSR float32) built from the events table.

Each event type carries a weight (view < click < add_to_cart < purchase), a rating counts as
one strong interaction, by its value, or for or against the item (`RATINGS`), dismissals are
dropped or subtract, and old events can fade with a half-life.
Summed weights become confidences (log1p or linear scaling). `IdMap` is the one object that
translates external ids to matrix indices and back, so indices never leak out as ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from contracts.errors import InvalidInput
from contracts.schema import EVENT_WEIGHTS
from recsys.errors import UnknownIdError

# How a `rate` event becomes confidence: "interaction" = every rating is one strong
# interaction (the published MovieLens protocol: relevance is any rating); "value" = the star
# value is the weight; "liked" = ratings of at least `like_threshold` are strong
# interactions, lower ones count against the item (as a dismissal). The product's default
# was chosen by measurement through the product's commands (bench/movielens.py, MovieLens-100K,
# per-user random 75/25, seeds 42/1/7, NDCG@10 of the served lists): value 0.4901/0.4889/
# 0.4882, interaction 0.4843/0.4868/0.4870, liked 0.4819/0.4823/0.4808.
RATINGS = ("interaction", "value", "liked")
RatingReading = Literal["interaction", "value", "liked"]
PRODUCT_RATINGS: RatingReading = "value"


class IdMap:
    """Bijection between external ids (strings) and contiguous indices 0..n-1."""

    def __init__(self, ids: Iterable[object], *, kind: str = "id") -> None:
        index = pd.Index(pd.Series(list(ids), dtype=object).astype(str).to_numpy(), dtype=object)
        if not index.is_unique:
            dup = index[index.duplicated()].tolist()[:5]
            raise InvalidInput(f"duplicate {kind} ids: {dup}")
        self.kind = kind
        self._index = index

    def __len__(self) -> int:
        return len(self._index)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and self._index.equals(other._index)

    __hash__ = None  # type: ignore[assignment]

    def lookup(self, ids: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
        """Indices of `ids`, -1 where unknown (for callers that handle cold start)."""
        keys = pd.Index(np.asarray(ids, dtype=object).astype(str), dtype=object)
        return np.asarray(self._index.get_indexer(keys), dtype=np.int64)

    def index(self, ids: Sequence[object] | np.ndarray | pd.Series) -> np.ndarray:
        """Indices of `ids`; raises `UnknownIdError` naming the unknown ones."""
        idx = self.lookup(ids)
        missing = idx < 0
        if missing.any():
            bad = np.asarray(ids, dtype=object)[missing].astype(str)
            raise UnknownIdError(self.kind, bad[:5].tolist(), int(missing.sum()))
        return idx

    def ids(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """External ids at `indices` (object array of str)."""
        idx = np.asarray(indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= len(self)):
            raise InvalidInput(f"{self.kind} index out of range 0..{len(self) - 1}")
        return np.asarray(self._index.to_numpy()[idx], dtype=object)

    def to_array(self) -> np.ndarray:
        """Fixed-width unicode array, storable in `.npz` without pickle."""
        return np.asarray(self._index.to_numpy(), dtype=str)

    @classmethod
    def from_array(cls, array: np.ndarray, *, kind: str = "id") -> IdMap:
        return cls(array.tolist(), kind=kind)


@dataclass(frozen=True)
class WeightConfig:
    """How events become confidences.

    Attributes
    ----------
    weights : per event type; types absent or weighted 0 are ignored.
    ratings : how a `rate` event counts (see `RATINGS`).
    rate_weight : with ratings="value", a `rate` event counts `rate_weight * value`.
    min_rating : with ratings="value", ratings below this are dropped (None keeps all).
    like_threshold : with ratings="liked", the lowest rating that counts for the item.
    dismiss_weight : 0 drops dismissals; a negative value subtracts (the sum is clipped at 0).
    half_life_days : exponential time decay of event weights (None = no decay).
    confidence : "log1p" -> alpha * log1p(w), "linear" -> alpha * w, "binary" -> 1.
    alpha : confidence scale.
    """

    weights: dict[str, float] = field(default_factory=lambda: dict(EVENT_WEIGHTS))
    ratings: RatingReading = "value"
    rate_weight: float = 1.0
    min_rating: float | None = None
    dismiss_weight: float = 0.0
    half_life_days: float | None = None
    confidence: Literal["log1p", "linear", "binary"] = "log1p"
    alpha: float = 1.0
    like_threshold: float = 3.0


def product_weights(ratings: str = PRODUCT_RATINGS) -> WeightConfig:
    """How the product's batch reads events: the default weights, a dismissal subtracting,
    ratings read as `ratings`."""
    if ratings not in RATINGS:
        raise InvalidInput(f"unknown ratings reading {ratings!r}: use {', '.join(RATINGS)}")
    return WeightConfig(dismiss_weight=-2.0, ratings=ratings)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Interactions:
    """A customers x items confidence matrix with the id maps of its rows and columns."""

    matrix: sp.csr_matrix
    customers: IdMap
    items: IdMap


def event_weights(
    events: pd.DataFrame, config: WeightConfig, *, now: pd.Timestamp | None = None
) -> np.ndarray:
    """Raw (pre-confidence) weight of every event row, decay applied."""
    table = dict(config.weights)
    table["dismiss"] = config.dismiss_weight
    column = events["type"]
    if isinstance(column.dtype, pd.CategoricalDtype):
        # look weights up per category, not per row: tens of millions of rows stay cheap
        names = [str(c) for c in column.cat.categories]
        lookup = np.array([table.get(name, 0.0) for name in names] + [0.0])
        codes = column.cat.codes.to_numpy()
        w = lookup[codes]  # code -1 (missing) picks the trailing 0.0
        is_rate = codes == names.index("rate") if "rate" in names else np.zeros(len(w), bool)
    else:
        types = column.astype(str).to_numpy()
        w = pd.Series(types).map(table).fillna(0.0).to_numpy(dtype=np.float64, copy=True)
        is_rate = types == "rate"
    if is_rate.any():
        if "value" not in events:
            raise InvalidInput("events of type 'rate' need a 'value' column")
        values = pd.to_numeric(events["value"], errors="coerce").to_numpy(dtype=np.float64)
        rated = np.nan_to_num(values[is_rate], nan=0.0)
        strong = table.get("rate", EVENT_WEIGHTS["rate"])
        if config.ratings == "interaction":
            rate_w = np.full(rated.shape, strong)
        elif config.ratings == "liked":
            rate_w = np.where(rated >= config.like_threshold, strong, config.dismiss_weight)
        else:
            rate_w = config.rate_weight * rated
            if config.min_rating is not None:
                rate_w[rated < config.min_rating] = 0.0
        w[is_rate] = rate_w
    if config.half_life_days is not None:
        w = w * decay_factors(events, config.half_life_days, now=now)
    return w


def decay_factors(
    events: pd.DataFrame, half_life_days: float, *, now: pd.Timestamp | None = None
) -> np.ndarray:
    """0.5 ** (age in days / half-life) per event, age measured from `now` (default: the
    latest event); future events count as age 0."""
    if half_life_days <= 0:
        raise InvalidInput("half_life_days must be positive")
    ts = pd.to_datetime(events["timestamp"], utc=True)
    ref = ts.max() if now is None else pd.Timestamp(now)
    age_days = ((ref - ts).dt.total_seconds() / 86400.0).to_numpy(dtype=np.float64)
    return np.power(0.5, np.clip(age_days, 0.0, None) / half_life_days)


def build_interactions(
    events: pd.DataFrame,
    *,
    config: WeightConfig | None = None,
    customer_ids: Iterable[object] | None = None,
    item_ids: Iterable[object] | None = None,
    now: pd.Timestamp | None = None,
    drop_unknown: bool = False,
) -> Interactions:
    """Build the confidence matrix from an events DataFrame.

    `customer_ids` / `item_ids` fix the rows/columns (e.g. the whole catalogue, so items
    without events can still be scored by feature models); by default they are the ids seen
    in `events`, in first-seen order. Events with ids outside given maps raise
    `UnknownIdError` unless `drop_unknown`.
    """
    config = config or WeightConfig()
    missing = {"customer_id", "item_id", "type"} - set(events.columns)
    if config.half_life_days is not None:
        missing |= {"timestamp"} - set(events.columns)
    if missing:
        raise InvalidInput(f"events table lacks column(s): {sorted(missing)}")
    customers = IdMap(
        pd.unique(events["customer_id"].astype(str)) if customer_ids is None else customer_ids,
        kind="customer",
    )
    items = IdMap(
        pd.unique(events["item_id"].astype(str)) if item_ids is None else item_ids, kind="item"
    )
    rows = customers.lookup(events["customer_id"].to_numpy())
    cols = items.lookup(events["item_id"].to_numpy())
    known = (rows >= 0) & (cols >= 0)
    if not drop_unknown and not known.all():
        customers.index(events["customer_id"].to_numpy())
        items.index(events["item_id"].to_numpy())
    w = event_weights(events, config, now=now)
    keep = known & (w != 0)
    shape = (len(customers), len(items))
    matrix = confidences(rows[keep], cols[keep], w[keep], shape, config)
    return Interactions(matrix=matrix, customers=customers, items=items)


def confidences(
    rows: np.ndarray, cols: np.ndarray, w: np.ndarray, shape: tuple[int, int], config: WeightConfig
) -> sp.csr_matrix:
    """Event weights at (row, col) summed per pair, clipped at 0 and scaled to confidences."""
    summed = sp.coo_matrix((w, (rows, cols)), shape=shape).tocsr()
    summed.sum_duplicates()
    summed.data = np.clip(summed.data, 0.0, None)  # dismissals may push a pair below zero
    summed.eliminate_zeros()
    if config.confidence == "log1p":
        summed.data = config.alpha * np.log1p(summed.data)
    elif config.confidence == "linear":
        summed.data = config.alpha * summed.data
    elif config.confidence == "binary":
        summed.data = np.ones_like(summed.data)
    else:
        raise InvalidInput(f"unknown confidence scaling {config.confidence!r}")
    matrix = sp.csr_matrix(summed, dtype=np.float32)
    matrix.sort_indices()
    return matrix
