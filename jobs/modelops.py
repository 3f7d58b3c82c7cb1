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

from contracts.errors import InvalidInput
from contracts.schema import CUSTOMERS, EVENTS, ITEMS
from contracts.tables import with_defaults
from jobs.publish import model_consumed
from jobs.published_tables import item_records, popular_lists
from recsys.business_rules import RuleBook
from recsys.consumption import Consumption
from recsys.errors import ModelTooLargeError
from recsys.evaluation import evaluate
from recsys.features import FeatureEncoder, aligned_features
from recsys.matrix import (
    PRODUCT_RATINGS,
    Interactions,
    WeightConfig,
    build_interactions,
    product_weights,
)
from recsys.models import create_model
from recsys.registry import ModelBundle, Registry, fingerprint
from recsys.selection import Selection, describe, select_model
from recsys.served import Storefront
from recsys.split import (
    Split,
    first_seen,
    random_split,
    recent_split,
    temporal_split,
    training_period,
)

log = logging.getLogger("touchpoint.models")
SplitKind = Literal["random", "recent", "temporal"]
SPLITS: tuple[SplitKind, ...] = ("random", "recent", "temporal")  # the first is the default
LEGACY_RATINGS = "liked"  # how models saved before the reading was recorded read ratings
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


def saved_weights(bundle: ModelBundle) -> WeightConfig:
    """How the saved model read events (its ratings reading), so history is read alike."""
    return product_weights(str(bundle.info.get("ratings") or LEGACY_RATINGS))


@dataclass
class Prepared:
    """The training matrix over the whole catalogue, with attribute features, the weights it
    was read with and what each customer already has (`recsys.consumption`)."""

    interactions: Interactions
    customer_encoder: FeatureEncoder | None
    item_encoder: FeatureEncoder | None
    user_features: sp.csr_matrix | None
    item_features: sp.csr_matrix | None
    weights: WeightConfig
    consumption: Consumption
    consumed: sp.csr_matrix


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
        raise InvalidInput("segments table lacks a customer_id column")
    extra = [c for c in segments.columns if c == "customer_id" or c not in customers.columns]
    seg = segments[extra].astype({"customer_id": str})
    return customers.astype({"customer_id": str}).merge(seg, on="customer_id", how="left")


def prepare(
    tables: dict[str, pd.DataFrame],
    segments: pd.DataFrame | None = None,
    *,
    ratings: str = PRODUCT_RATINGS,
    consumption: Consumption | None = None,
) -> Prepared:
    """Matrix over the whole catalogue plus customer features (segments joined when given)."""
    events, items = tables["events"], tables["items"]
    customers = with_segments(tables.get("customers", pd.DataFrame()), segments)
    weights = product_weights(ratings)
    inter = build_interactions(
        events, config=weights, item_ids=items["item_id"].astype(str), drop_unknown=True
    )
    if inter.matrix.nnz == 0:
        raise InvalidInput("no usable interactions: events reference no catalogue item")
    cenc = _encoder(customers, "customer_id", CUSTOMER_FEATURES, set(CUSTOMERS.names))
    ienc = _encoder(items, "item_id", ITEM_FEATURES, set(ITEMS.names))
    uf = cenc and aligned_features(cenc, customers, inter.customers.to_array())
    itf = ienc and aligned_features(ienc, items, inter.items.to_array())
    consumption = consumption or Consumption()
    consumed = model_consumed(events, items, inter, consumption)
    return Prepared(inter, cenc, ienc, uf, itf, weights, consumption, consumed)


def make_split(
    tables: dict[str, pd.DataFrame], prep: Prepared, kind: SplitKind, test_fraction: float
) -> tuple[Split, pd.DataFrame]:
    """Validation/test split aligned with `prep.interactions` (same rows and columns), with
    what each customer had in the training part, and the training part's events."""
    inter, events = prep.interactions, tables["events"]
    if kind in ("random", "recent"):
        if kind == "random":
            s = random_split(inter.matrix, test_fraction=test_fraction, seed=42)
        else:
            when = first_seen(events, inter)
            s = recent_split(inter.matrix, when, test_fraction=test_fraction)
        had = sp.csr_matrix(prep.consumed - prep.consumed.multiply(s.test))
        had.eliminate_zeros()
        if s.test.nnz == 0:
            raise InvalidInput("no customer has two interactions: nothing to validate on")
        return Split(s.train, s.test, had), events
    if kind != "temporal":
        raise InvalidInput(f"unknown split {kind!r}: use {', '.join(SPLITS)}")
    train, test = temporal_split(
        events,
        test_fraction=test_fraction,
        config=prep.weights,
        customer_ids=inter.customers.to_array(),
        item_ids=inter.items.to_array(),
    )
    if test.nnz == 0:
        raise InvalidInput("the temporal test period has no interactions to evaluate")
    before = events[training_period(events, test_fraction)]
    had = model_consumed(before, tables["items"], inter, prep.consumption)
    return Split(train=train.matrix, test=test, consumed=had), before


def storefront(tables: dict[str, pd.DataFrame], events: pd.DataFrame, book: RuleBook) -> Storefront:
    """What validation serves from: the catalogue (the matrix's columns, in order), popular
    lists of `events` (the training part: no look at the test period) and the default
    channel's rules. No customer segments or tiers offline, no active-window check."""
    items = with_defaults(tables["items"], ITEMS)
    events = with_defaults(events, EVENTS)
    return Storefront(item_records(items), popular_lists(events, items, None), book.resolve(None))


def _categories(tables: dict[str, pd.DataFrame], prep: Prepared) -> np.ndarray | None:
    items = tables["items"]
    if "category" not in items:
        return None
    cat = items.set_index(items["item_id"].astype(str))["category"].astype(str)
    return cat.reindex(prep.interactions.items.to_array()).fillna("").to_numpy()


def run_evaluate(
    tables: dict[str, pd.DataFrame],
    *,
    split: SplitKind = SPLITS[0],
    test_fraction: float = 0.2,
    k: int = 10,
    on_model: Any = None,
    ratings: str = PRODUCT_RATINGS,
    book: RuleBook | None = None,
) -> dict[str, Any]:
    """Every model family beside popularity on one split, each with its raw top-k's metrics
    and the served list's (`served_*`: what the product would answer); a JSON-ready
    report."""
    book = book or RuleBook()
    prep = prepare(tables, ratings=ratings, consumption=book.consumption)
    s, before = make_split(tables, prep, split, test_fraction)
    front = storefront(tables, before, book)
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
        metrics = evaluate(model, s, k=k, item_categories=cats, user_features=prep.user_features,
                           front=front)  # fmt: skip
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
        "ratings": ratings,
        "consumption": prep.consumption.describe(),
        "rules": front.rules.source,
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
    ratings: str = PRODUCT_RATINGS
    consumption: Consumption = field(default_factory=Consumption)


def run_train(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    budget_seconds: float = 120.0,
    split: SplitKind = SPLITS[0],
    test_fraction: float = 0.2,
    activate: bool = True,
    segments: pd.DataFrame | None = None,
    ratings: str = PRODUCT_RATINGS,
    book: RuleBook | None = None,
) -> TrainResult:
    """Select a model within the budget, refit on all data, save it as a new version.

    Candidates are compared on the list the product would serve (`recsys.served`) under
    `book`'s default rules, with ratings read as `ratings`. Raises `ModelRejected` (nothing
    saved, the active version unchanged) when the best candidate is worse than popularity on
    validation or has non-finite parameters. `segments` (customer_id + segment columns)
    become customer features of the hybrid.
    """
    started = time.perf_counter()
    book = book or RuleBook()
    prep = prepare(tables, segments, ratings=ratings, consumption=book.consumption)
    t_prep = time.perf_counter()
    try:
        val, before = make_split(tables, prep, split, test_fraction)
    except InvalidInput as exc:
        if split != "temporal":
            raise
        # e.g. every event on one day: a per-customer random hold-out still validates
        log.warning("temporal validation impossible (%s); using a random split", exc)
        split = "random"
        val, before = make_split(tables, prep, split, test_fraction)
    t_split = time.perf_counter()
    sel = select_model(
        prep.interactions.matrix,
        val,
        budget_seconds=budget_seconds,
        user_features=prep.user_features,
        item_features=prep.item_features,
        front=storefront(tables, before, book),
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
        extra={
            "selection": trials,
            "split": split,
            "label": describe(sel.name, sel.params),
            "ratings": ratings,
            "consumption": prep.consumption.describe(),
        },
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
        sel.model, prep.interactions, sel.name, version, sel, seconds, bundle, timings,
        ratings, prep.consumption,
    )  # fmt: skip
