"""Batch recommendations for a campaign, through the path the API serves (`recsys.served`).

For each block of customers: their history and what they already have are read from the
events, the model's published top-N is computed as the batch publishes it (what they have
left out), and the same sources, rules and exclusions as `GET …/recommendations` pick the
answer; rows are written as each block is done, so memory stays bounded by the block.
A customer the model knows gets the list the API would answer with no live events; one it
does not know but who has events is folded in from them; one with nothing gets the popular
lists, as the API's cold start does.

Cost at a million customers: the events are coded once (customer, catalogue and model item
by Arrow's hash lookup, what consumes an item per event type), so a block's matrices are
built from integers (`_Events`); a thread scores the next block (numpy releases the GIL in
the product and the top-k) while this one is served and written; only the popular lists
this run can read are built; the CSV is written by Arrow with the bytes pandas would write.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from contracts.errors import InvalidInput
from jobs.modelops import registry_for, saved_weights, with_segments
from jobs.published_tables import item_records, popular_lists
from jobs.recommend_output import Writer
from jobs.recommend_people import lookup, people
from recsys.business_rules import RuleBook
from recsys.consumption import Consumption
from recsys.features import aligned_features
from recsys.matrix import IdMap, WeightConfig, confidences, event_weights
from recsys.registry import ModelBundle
from recsys.served import TOP_N, Ranked, Storefront, published, published_block, serve

BLOCK = 8192  # customers scored and served at once
Prepared = tuple[list[str], np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]


@dataclass(frozen=True)
class Shared:
    """The model, the popular lists (`popular_lists` of all the events) and the run's time."""

    bundle: ModelBundle
    popular: dict[str, Ranked]
    now: str


def read_customer_ids(path: Path) -> list[str]:
    """One customer id per line (blank lines and a `customer_id` header ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read customers file {path}: {exc}") from exc
    ids = [ln.strip() for ln in lines if ln.strip()]
    if ids and ids[0] == "customer_id":
        ids = ids[1:]
    if not ids:
        raise InvalidInput(f"{path}: no customer ids (expected one id per line)")
    return list(dict.fromkeys(ids))


def run_recommend(
    data: Path,
    tables: dict[str, pd.DataFrame],
    customer_ids: list[str],
    output: Path,
    *,
    book: RuleBook,
    k: int = 10,
    kind: str = "product",
    channel: str | None = None,
    placement: str | None = None,
    include_consumed: bool = False,
    version: str | None = None,
    segments: pd.DataFrame | None = None,
    on_block: Callable[[int], None] | None = None,
    shared: Shared | None = None,
) -> dict[str, Any]:
    """Write `customer_id, rank, item_id, score` for every listed customer to `output` (CSV,
    or Parquet by its suffix) and return a summary. The rules are those the API applies on
    `channel` (and `placement`); `include_consumed` lets what customers have come back.
    `shared`: what one run of many (`--engine spark`, a block of customers each) reads
    alike — the model, the popular lists of all the events and the time of the run."""
    bundle = registry_for(data).load(version) if shared is None else shared.bundle
    items, events = tables["items"], tables["events"]
    rules = book.resolve(channel, placement)
    if include_consumed:
        rules = replace(rules, exclude_consumed=False)
    records = item_records(items)
    if not any(r.get("kind") == kind for r in records):  # as `Storefront.catalogue` reads it
        raise InvalidInput(f"the catalogue has no item of kind {kind!r}: nothing to recommend")
    coded = _Events(events, customer_ids, items, bundle, records, book.consumption)
    featured = _feature_table(bundle, tables, segments)
    model_rows = bundle.customers.lookup(customer_ids)
    starts = range(0, len(customer_ids), BLOCK)

    def prepare(start: int) -> Prepared:
        ids = customer_ids[start : start + BLOCK]
        return _prepared(bundle, coded, start, ids, model_rows[start : start + BLOCK], book,
                         featured)  # fmt: skip

    served = cold = 0
    ahead = 2  # blocks scored meanwhile, in threads (numpy releases the GIL while it ranks)
    with (
        Writer(output, [r["item_id"] for r in records]) as write,
        ThreadPoolExecutor(ahead) as pool,
    ):
        upcoming = [pool.submit(prepare, start) for start in starts[:ahead]]
        segs, tiers, consents = people(tables, segments, customer_ids, rules.needs_consent(channel))
        read = {"global", f"kind:{kind}", *([f"channel:{channel}"] if channel else [])}
        read |= {f"segment:{n}{end}" for s in set(segs) for n in s for end in ("", f":kind:{kind}")}
        if shared is None:
            popular = popular_lists(events, items, segments, only=read,
                                    item_index=coded.catalogue)  # fmt: skip
            now = datetime.now(UTC).replace(microsecond=0).isoformat()
        else:
            popular, now = shared.popular, shared.now
        front = Storefront(records, popular, rules, kind, channel, now)
        for b, start in enumerate(starts):
            ids, idx, scores, had, is_cold = upcoming.pop(0).result()
            if b + ahead < len(starts):
                upcoming.append(pool.submit(prepare, starts[b + ahead]))
            mine = slice(start, start + len(ids))
            chosen, values = serve(
                front, (idx, scores), had, k, segments=segs[mine], tiers=tiers[mine],
                consents=None if consents is None else consents[mine],
            )  # fmt: skip
            write(ids, chosen, values)
            served += int((chosen >= 0).sum())
            cold += int(is_cold.sum())
            if on_block is not None:
                on_block(len(ids))
    return {
        "version": bundle.info.get("version"),
        "model": bundle.info.get("label", bundle.model.name),
        "rules": rules.source,
        "customers": len(customer_ids),
        "known to model": int((model_rows >= 0).sum()),
        "cold start": cold,
        "rows": served,
    }


class _Events:
    """The listed customers' events, coded once: each event's customer (position in the
    list), catalogue item and model item (-1: none; `IdMap.lookup` by Arrow's hash table),
    its history weight, and whether it consumes its item (`recsys.consumption`), for the
    catalogue and for the model's items; events ordered by customer, as blocks read them."""

    def __init__(
        self,
        events: pd.DataFrame,
        ids: list[str],
        items: pd.DataFrame,
        bundle: ModelBundle,
        records: list[dict[str, Any]],
        consumption: Consumption,
    ) -> None:
        self.events = events
        self.position = lookup(events["customer_id"], ids)
        mine = np.flatnonzero(self.position >= 0)
        self.order = mine[np.argsort(self.position[mine], kind="stable")]
        self.starts = np.searchsorted(
            self.position[self.order], np.arange(0, len(ids) + BLOCK, BLOCK)
        )
        catalogue = IdMap(items["item_id"].astype(str), kind="item")
        model_items = bundle.items.to_array()
        self.catalogue = lookup(events["item_id"], catalogue.ids(np.arange(len(catalogue))))
        self.model = lookup(events["item_id"], model_items)
        self.shapes = len(catalogue), len(model_items)
        self.to_catalogue = catalogue.lookup(model_items)
        self.model_records = [records[i] if i >= 0 else {} for i in self.to_catalogue.tolist()]
        model_kinds = np.array([r.get("kind", "") for r in self.model_records], dtype=object)
        kinds = items["kind"].astype(str).to_numpy()
        types = events["type"]
        self.consumes = _consumes(types, self.catalogue, consumption, kinds)
        self.consumes_model = _consumes(types, self.model, consumption, model_kinds)
        self.config: WeightConfig = saved_weights(bundle)
        decays = self.config.half_life_days is not None  # then weights are read per block
        self.weights = None if decays else event_weights(events, self.config)

    def block(self, start: int, n: int) -> tuple[sp.csr_matrix, sp.csr_matrix, sp.csr_matrix]:
        """(history, consumed model items, consumed catalogue items) of the `n` customers
        from `start`, as `build_interactions` and `consumed_matrix` build them from the
        block's events (in log order per customer)."""
        b = start // BLOCK
        rows = self.order[self.starts[b] : self.starts[b + 1]]
        local = self.position[rows] - start
        weights = (
            event_weights(self.events.iloc[rows], self.config)
            if self.weights is None
            else self.weights[rows]
        )
        n_catalogue, n_model = self.shapes
        history = _history(local, self.model[rows], weights, (n, n_model), self.config)
        had_model = _ones(local, self.model[rows], self.consumes_model[rows], (n, n_model))
        had = _ones(local, self.catalogue[rows], self.consumes[rows], (n, n_catalogue))
        return history, had_model, had


def _prepared(
    bundle: ModelBundle,
    coded: _Events,
    start: int,
    ids: list[str],
    model_rows: np.ndarray,
    book: RuleBook,
    featured: pd.DataFrame | None,
) -> Prepared:
    """A block ready to serve: its ids, each customer's published top-N (catalogue item
    indices, -1 padded; scores) as the batch publishes it (the default channel's rules decide
    what is left out; nothing for the cold), what they have (catalogue items), who is cold."""
    history, had_model, had = coded.block(start, len(ids))
    feats = None
    if featured is not None and bundle.customer_encoder is not None:
        mine = featured.loc[featured.index.intersection(ids)]
        feats = aligned_features(bundle.customer_encoder, mine, np.asarray(ids))
    has_features = (
        np.diff(feats.indptr) > 0
        if feats is not None and bundle.model.scores_from_features
        else np.zeros(len(ids), bool)
    )
    cold = (model_rows < 0) & (np.diff(history.indptr) == 0) & ~has_features
    blocked = published_block(had_model, book.resolve(None), coded.model_records)
    idx = np.full((len(ids), TOP_N), -1, np.int64)
    scores = np.full((len(ids), TOP_N), -np.inf, np.float32)
    warm = np.flatnonzero(~cold)  # the cold have nothing published: not scored
    if len(warm):
        idx[warm], scores[warm] = published(
            bundle.model, history[warm], None if blocked is None else blocked[warm],
            user_indices=model_rows[warm], user_features=None if feats is None else feats[warm],
        )  # fmt: skip
    idx = np.where(idx >= 0, coded.to_catalogue[np.clip(idx, 0, None)], -1)
    return ids, idx, scores, had, cold


def _consumes(
    types: pd.Series, cols: np.ndarray, consumption: Consumption, item_kinds: np.ndarray
) -> np.ndarray:
    """Per event, whether it consumes its item, as `consumed_matrix` reads it: its type is
    one that consumes, or one that does for its item's kind; by category for a categorical
    `types` column (not as millions of strings)."""
    if isinstance(types.dtype, pd.CategoricalDtype):
        names = np.array([*types.cat.categories.astype(str), np.nan], dtype=object)
        codes = types.cat.codes.to_numpy()  # -1 (missing) reads the trailing NaN

        def among(wanted: frozenset[str]) -> np.ndarray:
            return np.isin(names, list(wanted))[codes]
    else:
        strings = types.astype(str).to_numpy()

        def among(wanted: frozenset[str]) -> np.ndarray:
            return np.isin(strings, list(wanted))

    kinds = np.asarray(item_kinds, dtype=object)
    at = np.where(cols >= 0, cols, 0)
    hit = among(consumption.events)
    for kind, extra in consumption.by_kind.items():
        hit |= (kinds == kind)[at] & among(extra)
    return hit


def _history(
    rows: np.ndarray, cols: np.ndarray, w: np.ndarray, shape: tuple[int, int], config: WeightConfig
) -> sp.csr_matrix:
    """The confidence matrix `build_interactions` makes of these events (same steps)."""
    keep = (cols >= 0) & (w != 0)
    return confidences(rows[keep], cols[keep], w[keep], shape, config)


def _ones(
    rows: np.ndarray, cols: np.ndarray, hit: np.ndarray, shape: tuple[int, int]
) -> sp.csr_matrix:
    """1 where a consuming event (`hit`) names a known item, as `consumed_matrix` builds it."""
    keep = (cols >= 0) & hit
    m = sp.csr_matrix((np.ones(int(keep.sum()), np.float32), (rows[keep], cols[keep])), shape)
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _feature_table(
    bundle: ModelBundle, tables: dict[str, pd.DataFrame], segments: pd.DataFrame | None
) -> pd.DataFrame | None:
    """Customers with their segments, indexed by id, when the model scores from them."""
    customers = with_segments(tables.get("customers", pd.DataFrame()), segments)
    if bundle.customer_encoder is None or customers.empty or not bundle.model.reads_user_features:
        return None
    return customers.set_index(customers["customer_id"].astype(str), drop=False)
