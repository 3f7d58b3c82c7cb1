"""Publish for serving: turn tables, a fitted model and segments into the `serving` artifact.

Thin by design: the model scores, `recsys` builds matrices, `store` writes the version and
switches to it atomically. Items are published in catalogue order; the model's own item
indices are mapped onto it, so indices never leak out as ids.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import redis
import scipy.sparse as sp

from jobs.profiles import customer_profiles
from jobs.published_tables import item_records, popular_lists
from recsys.business_rules import Rules
from recsys.consumption import Consumption, consumed_matrix
from recsys.explain import ANCHORS, anchor_positions
from recsys.matrix import Interactions
from recsys.models.base import Recommender
from recsys.served import published, published_block
from store.config import StoreConfig
from store.serving import ARTIFACT, Ranked, Recs, ServingBundle, write_serving
from store.versions import Versions

log = logging.getLogger("touchpoint.publish")

SIMILAR_N = 20
HISTORY_N = 200
BATCH = 4096


@dataclass(frozen=True)
class Trained:
    """A fitted model with the matrix (and id maps) it was fitted on."""

    model: Recommender
    interactions: Interactions
    name: str
    version: str


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
