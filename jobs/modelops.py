"""Thin model jobs: load tables → build matrices → evaluate / select / score → registry.

No algorithm lives here: `recsys` does the work; this module wires tables to it and
returns plain results the CLI prints. Publishing to Redis is `jobs.publish`'s job.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from contracts.schema import CUSTOMERS, ITEMS
from recsys.errors import InvalidInputError, ModelTooLargeError
from recsys.evaluation import evaluate
from recsys.features import FeatureEncoder, aligned_features
from recsys.matrix import Interactions, WeightConfig, build_interactions
from recsys.models import create_model
from recsys.popularity import popularity_scores
from recsys.registry import ModelBundle, Registry, fingerprint
from recsys.scoring import recommend_batch, to_frame
from recsys.selection import Selection, describe, select_model
from recsys.split import Split, random_split, temporal_split

log = logging.getLogger("touchpoint.models")
SplitKind = Literal["temporal", "random"]
WEIGHTS = WeightConfig(min_rating=3.0, dismiss_weight=-2.0)
CUSTOMER_FEATURES = ("country", "birth_year", "gender", "loyalty_tier")
ITEM_FEATURES = ("kind", "category", "tags", "price")
# one configuration per family for `evaluate` (selection searches more)
EVALUATED: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ease", {"lambda_": 500.0}),
    ("als", {"factors": 32, "alpha": 5.0, "regularization": 10.0}),
    ("als", {"factors": 100, "regularization": 0.01, "alpha": 1.0}),
    ("bpr", {}),
    ("item_knn", {"similarity": "bm25"}),
    ("item_knn", {"similarity": "cosine"}),
    ("lightfm", {}),
)


def registry_for(data: Path) -> Registry:
    return Registry(Path(data) / "models")


@dataclass
class Prepared:
    """The training matrix over the whole catalogue, with attribute features."""

    interactions: Interactions
    customer_encoder: FeatureEncoder | None
    item_encoder: FeatureEncoder | None
    user_features: sp.csr_matrix | None
    item_features: sp.csr_matrix | None


def _encoder(table: pd.DataFrame, id_col: str, known: tuple[str, ...], schema: set[str]) -> Any:
    """Encoder over the chosen schema columns plus any extra (unknown) columns."""
    cols = [c for c in table.columns if c in known or (c not in schema and c != id_col)]
    if table.empty or not cols:
        return None
    return FeatureEncoder(id_col, columns=cols).fit(table)


def with_segments(customers: pd.DataFrame, segments: pd.DataFrame | None) -> pd.DataFrame:
    """Customers with the segment table's columns joined on (they become features)."""
    if segments is None or segments.empty or customers.empty:
        return customers
    if "customer_id" not in segments:
        raise InvalidInputError("segments table lacks a customer_id column")
    extra = [c for c in segments.columns if c == "customer_id" or c not in customers.columns]
    seg = segments[extra].astype({"customer_id": str})
    return customers.astype({"customer_id": str}).merge(seg, on="customer_id", how="left")


def prepare(tables: dict[str, pd.DataFrame], segments: pd.DataFrame | None = None) -> Prepared:
    """Matrix over the whole catalogue plus customer features (segments joined when given)."""
    events, items = tables["events"], tables["items"]
    customers = with_segments(tables.get("customers", pd.DataFrame()), segments)
    inter = build_interactions(
        events, config=WEIGHTS, item_ids=items["item_id"].astype(str), drop_unknown=True
    )
    if inter.matrix.nnz == 0:
        raise InvalidInputError("no usable interactions: events reference no catalogue item")
    cenc = _encoder(customers, "customer_id", CUSTOMER_FEATURES, set(CUSTOMERS.names))
    ienc = _encoder(items, "item_id", ITEM_FEATURES, set(ITEMS.names))
    uf = cenc and aligned_features(cenc, customers, inter.customers.to_array())
    itf = ienc and aligned_features(ienc, items, inter.items.to_array())
    return Prepared(inter, cenc, ienc, uf, itf)


def make_split(
    tables: dict[str, pd.DataFrame], prep: Prepared, kind: SplitKind, test_fraction: float
) -> Split:
    """Validation/test split aligned with `prep.interactions` (same rows and columns)."""
    inter = prep.interactions
    if kind == "random":
        return random_split(inter.matrix, test_fraction=test_fraction, seed=42)
    if kind != "temporal":
        raise InvalidInputError(f"unknown split {kind!r}: use temporal or random")
    train, test = temporal_split(
        tables["events"],
        test_fraction=test_fraction,
        config=WEIGHTS,
        customer_ids=inter.customers.to_array(),
        item_ids=inter.items.to_array(),
    )
    if test.nnz == 0:
        raise InvalidInputError("the temporal test period has no interactions to evaluate")
    return Split(train=train.matrix, test=test)


def _categories(tables: dict[str, pd.DataFrame], prep: Prepared) -> np.ndarray | None:
    items = tables["items"]
    if "category" not in items:
        return None
    cat = items.set_index(items["item_id"].astype(str))["category"].astype(str)
    return cat.reindex(prep.interactions.items.to_array()).fillna("").to_numpy()


def run_evaluate(
    tables: dict[str, pd.DataFrame],
    *,
    split: SplitKind = "temporal",
    test_fraction: float = 0.2,
    k: int = 10,
    on_model: Any = None,
) -> dict[str, Any]:
    """Every model family beside popularity on one split; a JSON-ready report."""
    prep = prepare(tables)
    s = make_split(tables, prep, split, test_fraction)
    cats = _categories(tables, prep)
    rows: list[dict[str, Any]] = []
    configs = [("popularity", {}), *EVALUATED]
    for name, params in configs:
        label = describe(name, params)
        if on_model:
            on_model(label)
        t0 = time.perf_counter()
        try:
            model = create_model(name, **params).fit(
                s.train, user_features=prep.user_features, item_features=prep.item_features
            )
        except ModelTooLargeError as exc:
            rows.append({"model": label, "skipped": str(exc)})
            continue
        fit_s = time.perf_counter() - t0
        metrics = evaluate(model, s, k=k, item_categories=cats, user_features=prep.user_features)
        rows.append({"model": label, "fit_seconds": round(fit_s, 2), **metrics})
    return {
        "split": split,
        "test_fraction": test_fraction,
        "k": k,
        "customers": int(s.train.shape[0]),
        "items": int(s.train.shape[1]),
        "train_interactions": int(s.train.nnz),
        "test_interactions": int(s.test.nnz),
        "test_customers": int(s.test_users.size),
        "models": rows,
    }


@dataclass
class TrainResult:
    """Outcome of `train`; `model`, `interactions`, `name`, `version` feed publishing."""

    model: Any
    interactions: Interactions
    name: str
    version: str
    selection: Selection
    seconds: float
    bundle: ModelBundle = field(repr=False)
    timings: dict[str, float] = field(default_factory=dict)


def run_train(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    budget_seconds: float = 120.0,
    split: SplitKind = "temporal",
    test_fraction: float = 0.2,
    activate: bool = True,
    segments: pd.DataFrame | None = None,
) -> TrainResult:
    """Select a model within the budget, refit on all data, save it as a new version.

    Raises `ModelRejected` (nothing saved, the active version unchanged) when the best
    candidate is worse than popularity on validation or has non-finite parameters.
    `segments` (customer_id + segment columns) become customer features of the hybrid.
    """
    started = time.perf_counter()
    prep = prepare(tables, segments)
    t_prep = time.perf_counter()
    try:
        val = make_split(tables, prep, split, test_fraction)
    except InvalidInputError as exc:
        if split != "temporal":
            raise
        # e.g. every event on one day: a per-customer random hold-out still validates
        log.warning("temporal validation impossible (%s); using a random split", exc)
        split = "random"
        val = make_split(tables, prep, split, test_fraction)
    t_split = time.perf_counter()
    sel = select_model(
        prep.interactions.matrix,
        val,
        budget_seconds=budget_seconds,
        user_features=prep.user_features,
        item_features=prep.item_features,
    )
    seconds = time.perf_counter() - started
    bundle = ModelBundle(
        sel.model,
        prep.interactions.customers,
        prep.interactions.items,
        prep.customer_encoder,
        prep.item_encoder,
    )
    trials = [
        {"model": describe(t.model, t.params), "metrics": t.metrics, "skipped": t.skipped}
        for t in sel.trials
    ]
    version = registry_for(data).save(
        bundle,
        metrics={"validation": sel.validation, "popularity": sel.popularity},
        data_fingerprint=fingerprint(prep.interactions),
        training_seconds=seconds,
        extra={"selection": trials, "split": split, "label": describe(sel.name, sel.params)},
        activate=activate,
    )
    timings = {
        "prepare": t_prep - started,
        "split": t_split - t_prep,
        "search": seconds - (t_split - started) - sel.refit_seconds,
        "refit": sel.refit_seconds,
        "save": time.perf_counter() - started - seconds,
    }
    return TrainResult(
        sel.model, prep.interactions, sel.name, version, sel, seconds, bundle, timings
    )


def read_customer_ids(path: Path) -> list[str]:
    """One customer id per line (blank lines and a `customer_id` header ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read customers file {path}: {exc}") from exc
    ids = [ln.strip() for ln in lines if ln.strip()]
    if ids and ids[0] == "customer_id":
        ids = ids[1:]
    if not ids:
        raise InvalidInputError(f"{path}: no customer ids (expected one id per line)")
    return list(dict.fromkeys(ids))


def _allowed(
    items: pd.DataFrame, bundle: ModelBundle, kind: str | None, channel: str | None
) -> np.ndarray:
    """Mask over model items: in the current catalogue, in stock, of `kind`, on `channel`."""
    ok = items["in_stock"].astype(bool) if "in_stock" in items else pd.Series(True, items.index)
    if kind:
        ok &= items["kind"].astype(str) == kind
    if channel:
        chans = items["channels"].astype("string").fillna("")
        ok &= (chans == "") | chans.str.split(";").apply(lambda c: channel in c)
    allowed_ids = set(items.loc[ok, "item_id"].astype(str))
    return np.array([i in allowed_ids for i in bundle.items.to_array()], dtype=bool)


def run_recommend(
    data: Path,
    tables: dict[str, pd.DataFrame],
    customer_ids: list[str],
    *,
    k: int = 10,
    kind: str | None = "product",
    channel: str | None = None,
    include_purchased: bool = False,
    version: str | None = None,
    segments: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Top-k per listed customer from the active (or given) model version."""
    bundle = registry_for(data).load(version)
    events = tables["events"]
    n = len(customer_ids)
    mine = events[events["customer_id"].astype(str).isin(set(customer_ids))]
    item_ids = bundle.items.to_array()
    shape = (n, len(bundle.items))
    hist = build_interactions(
        mine, config=WEIGHTS, customer_ids=customer_ids, item_ids=item_ids, drop_unknown=True
    ).matrix
    buys = mine[(mine["type"].astype(str) == "purchase").to_numpy()]
    rows = pd.Index(customer_ids).get_indexer(pd.Index(buys["customer_id"].astype(str)))
    cols = bundle.items.lookup(buys["item_id"].to_numpy())
    ok = (rows >= 0) & (cols >= 0)
    purchased = build_matrix(rows, cols, np.ones(len(buys)), ok, shape)
    fallback = cold_start_scores(events, bundle, channel)
    feats = None
    customers = with_segments(tables.get("customers", pd.DataFrame()), segments)
    if bundle.customer_encoder is not None and not customers.empty:
        feats = aligned_features(bundle.customer_encoder, customers, np.asarray(customer_ids))
    items, scores, cold = recommend_batch(
        bundle.model,
        k=k,
        user_indices=bundle.customers.lookup(customer_ids),
        history=hist,
        fallback_scores=fallback,
        purchased=purchased,
        include_purchased=include_purchased,
        allowed_items=_allowed(tables["items"], bundle, kind, channel),
        user_features=feats,
    )
    frame = to_frame(customer_ids, bundle.items.to_array(), items, scores)
    known = bundle.customers.lookup(customer_ids) >= 0
    summary = {
        "version": bundle.info.get("version"),
        "model": bundle.info.get("label", bundle.model.name),
        "customers": n,
        "known to model": int(known.sum()),
        "cold start": int(cold.sum()),
        "rows": len(frame),
    }
    return frame, summary


def cold_start_scores(events: pd.DataFrame, bundle: ModelBundle, channel: str | None) -> np.ndarray:
    """Popularity over the model's items; on a channel, that channel's popularity first."""
    pop = popularity_scores(events, bundle.items, by="channel" if channel else None)
    scores = np.log1p(pop["*"])
    if channel and channel in pop:
        scores = np.log1p(pop[channel]) + 1e-3 * scores  # global breaks the ties
    return scores.astype(np.float32)


def build_matrix(
    rows: np.ndarray, cols: np.ndarray, data: np.ndarray, keep: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    m = sp.csr_matrix((data[keep].astype(np.float32), (rows[keep], cols[keep])), shape=shape)
    m.sum_duplicates()
    return m
