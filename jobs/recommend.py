"""Batch recommendations for a campaign, through the path the API serves (`recsys.served`).

For each block of customers: their history and what they already have are read from the
events, the model's published top-N is computed as the batch publishes it (what they have
left out), and the same sources, rules and exclusions as `GET …/recommendations` pick the
answer; rows are written as each block is done, so memory stays bounded by the block.
A customer the model knows gets the list the API would answer with no live events; one it
does not know but who has events is folded in from them; one with nothing gets the popular
lists, as the API's cold start does.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.errors import InvalidInput
from jobs.modelops import registry_for, saved_weights, with_segments
from jobs.profiles import customer_profiles
from jobs.publish import item_records, popular_lists
from recsys.business_rules import RuleBook
from recsys.consumption import consumed_matrix
from recsys.features import aligned_features
from recsys.matrix import IdMap, build_interactions
from recsys.registry import ModelBundle
from recsys.served import Storefront, customer_segments, published, published_block, serve

BLOCK = 8192  # customers scored and served at once


class Person(NamedTuple):
    """What the rules read of a customer's profile."""

    segments: list[str]
    tier: str
    consent: dict[str, bool]


NOBODY = Person([], "none", {})  # a customer without a profile, as the API sees one


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
) -> dict[str, Any]:
    """Write `customer_id, rank, item_id, score` for every listed customer to `output` (CSV,
    or Parquet by its suffix) and return a summary. The rules are those the API applies on
    `channel` (and `placement`); `include_consumed` lets what customers have come back."""
    bundle = registry_for(data).load(version)
    items, events = tables["items"], tables["events"]
    rules = book.resolve(channel, placement)
    if include_consumed:
        rules = replace(rules, exclude_consumed=False)
    records = item_records(items)
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    front = Storefront(records, popular_lists(events, items, segments), rules, kind, channel, now)
    if not len(front.catalogue[0]):
        raise InvalidInput(f"the catalogue has no item of kind {kind!r}: nothing to recommend")
    to_catalogue = IdMap(items["item_id"].astype(str), kind="item").lookup(bundle.items.to_array())
    model_records = [records[i] if i >= 0 else {} for i in to_catalogue.tolist()]
    people = _people(tables, segments, customer_ids)
    catalogue = IdMap(items["item_id"].astype(str), kind="item")
    kinds = items["kind"].astype(str).to_numpy()
    featured = _feature_table(bundle, tables, segments)
    served = cold = 0
    with _Writer(output) as write:
        for ids, block in _blocks(events, customer_ids):
            recs, is_cold = _published(bundle, block, ids, model_records, book, featured)
            recs = _to_catalogue(recs, to_catalogue)
            had = consumed_matrix(
                block, book.consumption, customers=IdMap(ids, kind="customer"), items=catalogue,
                item_kinds=kinds,
            )  # fmt: skip
            found = [people.get(c, NOBODY) for c in ids]
            idx, scores = serve(
                front, recs, had, k, segments=[p.segments for p in found],
                tiers=[p.tier for p in found], consents=[p.consent for p in found],
            )  # fmt: skip
            write(_frame(ids, records, idx, scores))
            served += int((idx >= 0).sum())
            cold += int(is_cold.sum())
            if on_block is not None:
                on_block(len(ids))
    known = bundle.customers.lookup(customer_ids) >= 0
    return {
        "version": bundle.info.get("version"),
        "model": bundle.info.get("label", bundle.model.name),
        "rules": rules.source,
        "customers": len(customer_ids),
        "known to model": int(known.sum()),
        "cold start": cold,
        "rows": served,
    }


def _published(
    bundle: ModelBundle,
    events: pd.DataFrame,
    ids: list[str],
    model_records: list[dict[str, Any]],
    book: RuleBook,
    featured: pd.DataFrame | None,
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The published top-N of each customer (model item indices), as the batch publishes it
    (the default channel's rules decide what is left out); -1 rows for the cold."""
    history = build_interactions(
        events, config=saved_weights(bundle), customer_ids=ids,
        item_ids=bundle.items.to_array(), drop_unknown=True,
    ).matrix  # fmt: skip
    had = consumed_matrix(
        events, book.consumption, customers=IdMap(ids, kind="customer"), items=bundle.items,
        item_kinds=np.array([r.get("kind", "") for r in model_records], dtype=object),
    )  # fmt: skip
    rows = bundle.customers.lookup(ids)
    feats = None
    if featured is not None and bundle.customer_encoder is not None:
        mine = featured.loc[featured.index.intersection(ids)]
        feats = aligned_features(bundle.customer_encoder, mine, np.asarray(ids))
    has_features = (
        np.diff(feats.indptr) > 0
        if feats is not None and bundle.model.scores_from_features
        else np.zeros(len(ids), bool)
    )
    cold = (rows < 0) & (np.diff(history.indptr) == 0) & ~has_features
    blocked = published_block(had, book.resolve(None), model_records)
    idx, scores = published(bundle.model, history, blocked, user_indices=rows, user_features=feats)
    idx[cold] = -1
    return (idx, scores), cold


def _feature_table(
    bundle: ModelBundle, tables: dict[str, pd.DataFrame], segments: pd.DataFrame | None
) -> pd.DataFrame | None:
    """Customers with their segments, indexed by id, when the model scores from them."""
    customers = with_segments(tables.get("customers", pd.DataFrame()), segments)
    if bundle.customer_encoder is None or customers.empty or not bundle.model.reads_user_features:
        return None
    return customers.set_index(customers["customer_id"].astype(str), drop=False)


def _blocks(events: pd.DataFrame, ids: list[str]) -> Iterator[tuple[list[str], pd.DataFrame]]:
    """The listed customers in blocks of `BLOCK`, each with its customers' events (grouped
    once: no scan of the whole log per block)."""
    position = pd.Index(ids).get_indexer(pd.Index(events["customer_id"].astype(str)))
    mine = np.flatnonzero(position >= 0)
    order = mine[np.argsort(position[mine], kind="stable")]
    starts = np.searchsorted(position[order], np.arange(0, len(ids) + BLOCK, BLOCK))
    for b, start in enumerate(range(0, len(ids), BLOCK)):
        yield ids[start : start + BLOCK], events.iloc[order[starts[b] : starts[b + 1]]]


def _to_catalogue(
    recs: tuple[np.ndarray, np.ndarray], to_catalogue: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Model item indices as catalogue indices (-1 for items the catalogue no longer has)."""
    idx, scores = recs
    mapped = np.where(idx >= 0, to_catalogue[np.clip(idx, 0, None)], -1)
    return mapped, scores


def _people(
    tables: dict[str, pd.DataFrame], segments: pd.DataFrame | None, ids: list[str]
) -> dict[str, Person]:
    """Each listed customer's segments (most specific first), loyalty tier and marketing
    consents, read as the published profile holds them."""
    customers = tables.get("customers")
    if customers is None or customers.empty:
        return {}
    wanted = set(ids)
    chosen = customers[customers["customer_id"].astype(str).isin(wanted)]
    seg = None
    if segments is not None and len(segments):
        seg = segments[segments["customer_id"].astype(str).isin(wanted)]
    no_feedback = pd.DataFrame(columns=["customer_id", "survey", "score", "timestamp"])
    return {
        cid: Person(
            customer_segments(profile),
            str(profile.get("loyalty_tier") or "none"),
            profile.get("consent") or {},
        )
        for cid, profile in customer_profiles(chosen, seg, no_feedback)
    }


def _frame(
    ids: list[str], records: list[dict[str, Any]], idx: np.ndarray, scores: np.ndarray
) -> pd.DataFrame:
    """Long table `customer_id, rank, item_id, score` (padding dropped), rank from 1."""
    n, k = idx.shape
    keep = (idx >= 0).ravel()
    item_ids = np.array([r["item_id"] for r in records], dtype=object)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(ids, dtype=object), k)[keep],
            "rank": np.tile(np.arange(1, k + 1), n)[keep],
            "item_id": item_ids[idx.ravel()[keep]],
            "score": scores.ravel()[keep],
        }
    )


class _Writer:
    """Streams frames to a CSV (header once) or a Parquet file; the file appears whole:
    written under a temporary name and renamed at the end, so a failed run leaves no half
    file behind."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{time.time_ns()}.part")
        self.parquet: pq.ParquetWriter | None = None
        self.started = False

    def __enter__(self) -> Callable[[pd.DataFrame], None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.write

    def write(self, frame: pd.DataFrame) -> None:
        if self.path.suffix == ".parquet":
            table = pa.Table.from_pandas(frame, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.tmp, table.schema)
            self.parquet.write_table(table)
        else:
            frame.to_csv(self.tmp, mode="a" if self.started else "w", header=not self.started,
                         index=False)  # fmt: skip
        self.started = True

    def __exit__(self, *exc: object) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if exc[0] is not None:
            self.tmp.unlink(missing_ok=True)
            return
        if not self.started:
            self.write(pd.DataFrame(columns=["customer_id", "rank", "item_id", "score"]))
            if self.parquet is not None:
                self.parquet.close()
        self.tmp.replace(self.path)
