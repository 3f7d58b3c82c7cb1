"""Publish for serving: turn tables, a fitted model and segments into the `serving` artifact.

Thin by design: the model scores, `recsys` builds matrices, `store` writes the version and
switches to it atomically. Items are published in catalogue order; the model's own item
indices are mapped onto it, so indices never leak out as ids.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import redis
import scipy.sparse as sp

from jobs.profiles import customer_profiles
from recsys.business_rules import Rules
from recsys.consumption import Consumption, consumed_matrix
from recsys.explain import ANCHORS, anchor_positions
from recsys.matrix import IdMap, Interactions, WeightConfig, event_weights
from recsys.models.base import Recommender
from recsys.served import published, published_block
from store.config import StoreConfig
from store.serving import ARTIFACT, Ranked, Recs, ServingBundle, write_serving
from store.versions import Versions

log = logging.getLogger("touchpoint.publish")

SIMILAR_N = 20
HISTORY_N = 200
POPULAR_N = 500
TRENDING_HALF_LIFE_DAYS = 14.0
BATCH = 4096


@dataclass(frozen=True)
class Trained:
    """A fitted model with the matrix (and id maps) it was fitted on."""

    model: Recommender
    interactions: Interactions
    name: str
    version: str


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

    def wanted(*names: str) -> bool:
        return only is None or any(name in only for name in names)

    n_items = len(items)
    cols = (
        IdMap(items["item_id"].astype(str), kind="item").lookup(events["item_id"].to_numpy())
        if item_index is None
        else np.asarray(item_index, np.int64)
    )
    config = WeightConfig(half_life_days=TRENDING_HALF_LIFE_DAYS)
    weights = np.where(cols >= 0, np.clip(event_weights(events, config), 0.0, None), 0.0)
    cols = np.where(cols >= 0, cols, 0)

    def rank(mask: np.ndarray) -> Ranked:
        return _top(np.bincount(cols[mask], weights=weights[mask], minlength=n_items))

    lists: dict[str, Ranked] = {}
    if wanted("global"):
        lists["global"] = rank(np.ones(len(events), bool))
    # each kind ranked on its own: content and offers are too rare to survive a global cut
    kinds = items["kind"].astype(str).to_numpy()
    for kind in pd.unique(kinds):
        if wanted(f"kind:{kind}"):
            lists[f"kind:{kind}"] = rank((kinds == kind)[cols])  # the events' items' kind
    for channel, in_channel in _values(events["channel"]):
        if wanted(f"channel:{channel}"):
            lists[f"channel:{channel}"] = rank(in_channel())
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
                lists[names[0]] = rank(in_segment)
            for kind, named in zip(("content", "offer"), names[1:], strict=True):
                if wanted(named):
                    lists[named] = rank(in_segment & (kinds == kind)[cols])
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


def _catalogue_map(trained: Trained, item_ids: list[str]) -> np.ndarray:
    """Model item index → catalogue index (-1 for items the catalogue no longer has)."""
    position = {item_id: i for i, item_id in enumerate(item_ids)}
    model_ids = trained.interactions.items.ids(np.arange(len(trained.interactions.items)))
    return np.array([position.get(str(i), -1) for i in model_ids], dtype=np.int64)


def customer_candidates(
    trained: Trained,
    blocked: sp.csr_matrix | None,
    to_catalogue: np.ndarray,
    similar: Ranked | None,
    categories: np.ndarray,
) -> Iterator[tuple[str, Recs]]:
    """Top-N per known customer (`recsys.served.published`: what the customer has and may
    not have again, `blocked`, left out), in catalogue indices, each with the position of its
    reason's anchor in the customer's published history (`recsys.explain`; `similar`,
    `categories`: the catalogue's, as published)."""
    x = trained.interactions.matrix
    ids = trained.interactions.customers.ids(np.arange(x.shape[0]))
    for start in range(0, x.shape[0], BATCH):
        rows = np.arange(start, min(start + BATCH, x.shape[0]))
        mine = None if blocked is None else blocked[rows]
        yield from slice_candidates(
            trained.model, x[rows], mine, rows, ids[rows], to_catalogue, similar, categories
        )


def slice_candidates(
    model: Recommender,
    x: sp.csr_matrix,
    blocked: sp.csr_matrix | None,
    user_indices: np.ndarray,
    ids: np.ndarray,
    to_catalogue: np.ndarray,
    similar: Ranked | None,
    categories: np.ndarray,
) -> Iterator[tuple[str, Recs]]:
    """`customer_candidates` of a slice of customers: their rows of the matrix (`x`) and of
    `blocked`, their rows of the model (`user_indices`) and ids; what a Spark partition runs."""
    table = similar[0] if similar is not None else None
    items, scores = published(model, x, blocked, user_indices=user_indices)
    for r, cid in enumerate(ids):
        keep = items[r] >= 0
        mapped = to_catalogue[items[r][keep]]
        ok = mapped >= 0
        recs = mapped[ok].astype(np.uint32)
        anchors = _history_row(x, r, to_catalogue)[0][:ANCHORS]
        why = anchor_positions(recs, anchors, table, categories)
        yield str(cid), Recs(recs, scores[r][keep][ok], why.tobytes())


def customer_history(trained: Trained, to_catalogue: np.ndarray) -> Iterator[tuple[str, Ranked]]:
    """Each customer's strongest interactions (catalogue index, confidence) for fold-in."""
    x = trained.interactions.matrix
    return slice_history(x, trained.interactions.customers.ids(np.arange(x.shape[0])), to_catalogue)


def slice_history(
    x: sp.csr_matrix, ids: np.ndarray, to_catalogue: np.ndarray
) -> Iterator[tuple[str, Ranked]]:
    """`customer_history` of the customers whose rows `x` holds (`ids`, in order)."""
    for r, cid in enumerate(ids):
        yield str(cid), _history_row(x, r, to_catalogue)


def _history_row(x: sp.csr_matrix, r: int, to_catalogue: np.ndarray) -> Ranked:
    """Row `r`'s strongest interactions in catalogue indices, strongest first (stable), as
    published: reasons name these items by their position."""
    lo, hi = x.indptr[r], x.indptr[r + 1]
    cols, vals = x.indices[lo:hi], x.data[lo:hi]
    if len(cols) > HISTORY_N:
        top = np.argsort(-vals)[:HISTORY_N]
        cols, vals = cols[top], vals[top]
    mapped = to_catalogue[cols]
    ok = mapped >= 0
    cols, vals = mapped[ok].astype(np.uint32), vals[ok].astype(np.float32)
    order = np.argsort(-vals, kind="stable")
    return cols[order], vals[order]


def category_codes(records: list[dict[str, Any]]) -> np.ndarray:
    """Per published item a category code, -1 for none (as reasons compare categories)."""
    codes: dict[str, int] = {}
    return np.array(
        [codes.setdefault(c, len(codes)) if (c := r.get("category")) else -1 for r in records],
        np.int64,
    )


def customer_consumed(
    consumed: sp.csr_matrix, trained: Trained, to_catalogue: np.ndarray
) -> Iterator[tuple[str, Ranked]]:
    """Items each customer already has (catalogue indices): every path's exclusion."""
    ids = trained.interactions.customers.ids(np.arange(consumed.shape[0]))
    return slice_consumed(consumed, ids, to_catalogue)


def slice_consumed(
    consumed: sp.csr_matrix, ids: np.ndarray, to_catalogue: np.ndarray
) -> Iterator[tuple[str, Ranked]]:
    """`customer_consumed` of the customers whose rows `consumed` holds (`ids`, in order)."""
    for r in np.flatnonzero(np.diff(consumed.indptr)):
        cols = consumed.indices[consumed.indptr[r] : consumed.indptr[r + 1]]
        mapped = to_catalogue[cols]
        mapped = mapped[mapped >= 0]
        yield str(ids[r]), (mapped.astype(np.uint32), np.ones(len(mapped), np.float32))


def similar_items(trained: Trained, to_catalogue: np.ndarray, n_catalogue: int) -> Ranked | None:
    """Top similar items per catalogue item (-1 padded), if the model can tell."""
    n_model = len(trained.interactions.items)
    out_idx = np.full((n_catalogue, SIMILAR_N), -1, np.int64)
    out_sc = np.zeros((n_catalogue, SIMILAR_N), np.float32)
    try:
        for start in range(0, n_model, BATCH):
            block = np.arange(start, min(start + BATCH, n_model))
            idx, sc = trained.model.similar_items(block, SIMILAR_N)
            dest = to_catalogue[block]
            ok = dest >= 0
            mapped = np.where(idx >= 0, to_catalogue[np.clip(idx, 0, None)], -1)
            out_idx[dest[ok]] = mapped[ok]
            out_sc[dest[ok]] = sc[ok]
    except NotImplementedError:
        return None
    return out_idx.astype(np.int64), out_sc


def item_factors(trained: Trained, to_catalogue: np.ndarray, n_catalogue: int) -> np.ndarray | None:
    vectors = trained.model.item_vectors()
    if vectors is None:
        return None
    out = np.zeros((n_catalogue, vectors.shape[1]), np.float32)
    ok = to_catalogue >= 0
    out[to_catalogue[ok]] = vectors[ok]
    return out


def model_consumed(
    events: pd.DataFrame, items: pd.DataFrame, interactions: Interactions, consumption: Consumption
) -> sp.csr_matrix:
    """Customers × model items, 1 where the customer has the item (`recsys.consumption`)."""
    column = items["kind"] if "kind" in items else pd.Series("product", index=items.index)
    kind_of = column.astype(str).set_axis(items["item_id"].astype(str))
    kinds = kind_of.reindex(interactions.items.to_array()).fillna("product").to_numpy()
    return consumed_matrix(
        events, consumption, customers=interactions.customers, items=interactions.items,
        item_kinds=kinds,
    )  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """What publishing needs before the per-customer work: the shared part of the bundle
    and the inputs each customer's keys are computed from (either engine)."""

    shared: ServingBundle  # items, popular lists, model meta, factors, similar; no customers
    consumed: sp.csr_matrix  # model customers × model items (`recsys.consumption`)
    to_catalogue: np.ndarray
    categories: np.ndarray
    model_records: list[dict[str, Any]]  # the model items' published records (or {})
    rules: Rules


def prepare(
    *, tables: dict[str, pd.DataFrame], trained: Trained, segments: pd.DataFrame | None,
    rules: Rules,
) -> Prepared:  # fmt: skip
    """The shared keys and per-customer inputs; see `build_bundle`."""
    items, events = tables["items"], tables["events"]
    item_ids = items["item_id"].astype(str).tolist()
    to_catalogue = _catalogue_map(trained, item_ids)
    fold = trained.model.fold_in_params()  # None: the model's vectors cannot take fold-in
    model_meta = {
        "name": trained.name,
        "version": trained.version,
        "fold_in": fold is not None,
        "regularization": fold["regularization"] if fold else 0.0,
        "alpha": fold["alpha"] if fold else 1.0,
    }
    consumed = model_consumed(events, items, trained.interactions, rules.consumption)
    records = item_records(items)
    shared = ServingBundle(
        items=records,
        popular=popular_lists(events, items, segments),
        item_factors=item_factors(trained, to_catalogue, len(item_ids)),
        model=model_meta,
        similar=similar_items(trained, to_catalogue, len(item_ids)),
    )
    model_records = [records[i] if i >= 0 else {} for i in to_catalogue.tolist()]
    return Prepared(shared, consumed, to_catalogue, category_codes(records), model_records, rules)


def build_bundle(
    *,
    tables: dict[str, pd.DataFrame],
    trained: Trained,
    segments: pd.DataFrame | None,
    rules: Rules,
) -> ServingBundle:
    """Everything serving reads; `rules` (the default channel's business rules) decide what
    each customer already has (`recsys.consumption`) and what the published lists leave out."""
    p = prepare(tables=tables, trained=trained, segments=segments, rules=rules)
    blocked = published_block(p.consumed, rules, p.model_records)
    return dataclasses.replace(
        p.shared,
        customer_recs=customer_candidates(
            trained, blocked, p.to_catalogue, p.shared.similar, p.categories
        ),
        customer_consumed=customer_consumed(p.consumed, trained, p.to_catalogue),
        customer_profiles=customer_profiles(tables["customers"], segments, tables["feedback"]),
        customer_history=customer_history(trained, p.to_catalogue),
    )


def publish_serving(
    client: redis.Redis, config: StoreConfig, bundle: ServingBundle, meta: dict[str, Any]
) -> str:
    """Write the bundle as a new version and switch to it; the old one keeps serving until then."""
    version = Versions(client, config).publish(
        ARTIFACT, lambda release: write_serving(release, bundle), meta=meta
    )
    log.info("serving version %s is live", version)
    return version
