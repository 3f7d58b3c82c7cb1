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

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import scipy.sparse as sp

from jobs.modelops import registry_for, saved_weights, with_segments
from jobs.publish import PROFILE_SEGMENT_FIELDS, item_records, popular_lists
from recsys.consumption import Consumption
from recsys.errors import InvalidInputError
from recsys.features import aligned_features
from recsys.matrix import IdMap, WeightConfig, event_weights
from recsys.registry import ModelBundle
from recsys.rules import RuleBook
from recsys.served import SEGMENT_FIELDS, TOP_N, Storefront, published, published_block, serve

BLOCK = 8192  # customers scored and served at once
HEADER = ("customer_id", "rank", "item_id", "score")
CONSENTS = ("email", "push", "sms")  # a profile's consents, in its order
Prepared = tuple[list[str], np.ndarray, np.ndarray, sp.csr_matrix, np.ndarray]


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
    if not any(r.get("kind") == kind for r in records):  # as `Storefront.catalogue` reads it
        raise InvalidInputError(f"the catalogue has no item of kind {kind!r}: nothing to recommend")
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
        _Writer(output, [r["item_id"] for r in records]) as write,
        ThreadPoolExecutor(ahead) as pool,
    ):
        upcoming = [pool.submit(prepare, start) for start in starts[:ahead]]
        segs, tiers, consents = _people(
            tables, segments, customer_ids, rules.needs_consent(channel)
        )
        read = {"global", f"kind:{kind}", *([f"channel:{channel}"] if channel else [])}
        read |= {f"segment:{n}{end}" for s in set(segs) for n in s for end in ("", f":kind:{kind}")}
        popular = popular_lists(events, items, segments, only=read, item_index=coded.catalogue)
        now = datetime.now(UTC).replace(microsecond=0).isoformat()
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
        self.position = _lookup(events["customer_id"], ids)
        mine = np.flatnonzero(self.position >= 0)
        self.order = mine[np.argsort(self.position[mine], kind="stable")]
        self.starts = np.searchsorted(
            self.position[self.order], np.arange(0, len(ids) + BLOCK, BLOCK)
        )
        catalogue = IdMap(items["item_id"].astype(str), kind="item")
        model_items = bundle.items.to_array()
        self.catalogue = _lookup(events["item_id"], catalogue.ids(np.arange(len(catalogue))))
        self.model = _lookup(events["item_id"], model_items)
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


def _lookup(values: pd.Series, keys: Sequence[str] | np.ndarray) -> np.ndarray:
    """`IdMap(keys).lookup(values)` (-1: not among `keys`), by Arrow's hash table when the
    values are Arrow strings (~8x faster on millions of events)."""
    column = pa.array(values) if isinstance(values.dtype, pd.StringDtype) else None
    if column is None or not (
        pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
    ):
        return IdMap(keys).lookup(values.to_numpy())
    unique = IdMap(keys)  # the same check: duplicate keys are an error
    found = pc.index_in(column, value_set=pa.array(unique.ids(np.arange(len(unique))), column.type))
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), np.int64)


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
    summed = sp.coo_matrix((w[keep], (rows[keep], cols[keep])), shape=shape).tocsr()
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
        raise InvalidInputError(f"unknown confidence scaling {config.confidence!r}")
    matrix = sp.csr_matrix(summed, dtype=np.float32)
    matrix.sort_indices()
    return matrix


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


People = tuple[list[tuple[str, ...]], list[str], list[dict[str, bool]] | None]


def _people(
    tables: dict[str, pd.DataFrame], segments: pd.DataFrame | None, ids: list[str], consent: bool
) -> People:
    """Each listed customer's segments (most specific first), loyalty tier and marketing
    consents (when `consent` is read), as `customer_profiles` publishes them and
    `customer_segments` reads them, column by column rather than a dict per customer."""
    n = len(ids)
    found: list[tuple[str, ...]] = [()] * n
    tiers = ["none"] * n
    consents: list[dict[str, bool]] | None = [{}] * n if consent else None
    customers = tables.get("customers")
    if customers is None or customers.empty:
        return found, tiers, consents
    chosen = customers[_lookup(customers["customer_id"].astype(str), ids) >= 0]
    frame = pd.DataFrame({
        "customer_id": chosen["customer_id"].astype(str),
        "loyalty_tier": chosen["loyalty_tier"].astype(str),
        **{f"consent_{c}": chosen[f"consent_{c}"] for c in CONSENTS},
    })  # fmt: skip
    if segments is not None and len(segments):
        seg = segments[_lookup(segments["customer_id"].astype(str), ids) >= 0]
        if len(seg):
            wanted = [c for c in PROFILE_SEGMENT_FIELDS if c in seg.columns]
            seg = seg[["customer_id", *wanted]].assign(customer_id=seg["customer_id"].astype(str))
            frame = frame.merge(seg, on="customer_id", how="outer")
    frame = frame[~frame["customer_id"].duplicated(keep="last")]  # the last counts, as in a dict
    at = _lookup(frame["customer_id"], ids)
    tier = frame["loyalty_tier"].to_numpy(dtype=object)
    profiled = pd.notna(tier)
    given = tier[profiled].astype(str)
    chosen_tiers = np.full(n, "none", dtype=object)
    chosen_tiers[at[profiled]] = np.where(given == "", "none", given)  # `tier or "none"`
    tiers = chosen_tiers.tolist()
    if any(f in frame.columns for f in (*SEGMENT_FIELDS, "segments")):
        named = [_strings(frame, f) for f in SEGMENT_FIELDS]
        rule = _strings(frame, "segments")
        for r, row in enumerate(at.tolist()):
            names = [x[r] or "" for x in named]
            found[row] = tuple(x for x in [*names, *(rule[r] or "").split(";")] if x)
    if consents is not None:
        flags = [frame[f"consent_{c}"].to_numpy(dtype=object)[profiled] for c in CONSENTS]
        for row, *given_flags in zip(at[profiled].tolist(), *flags, strict=True):
            consents[row] = {c: bool(f) for c, f in zip(CONSENTS, given_flags, strict=True)}
    return found, tiers, consents


def _strings(frame: pd.DataFrame, column: str) -> list[str | None]:
    """A profile field as the profile holds it: `str(value)`, None where missing."""
    if column not in frame.columns:
        return [None] * len(frame)
    values = frame[column].to_numpy(dtype=object)
    return [None if m else str(v) for v, m in zip(values, pd.isna(values).tolist(), strict=True)]


class _Writer:
    """Streams blocks to a CSV (header once) or a Parquet file; the file appears whole:
    written under a temporary name and renamed at the end, so a failed run leaves no half
    file behind. CSV rows are written by Arrow with the bytes `DataFrame.to_csv` writes
    (pandas itself where an id would need quoting)."""

    def __init__(self, path: Path, item_ids: list[str]) -> None:
        self.path = Path(path)
        self.tmp = self.path.with_name(f".{self.path.name}.{time.time_ns()}.part")
        self.parquet: pq.ParquetWriter | None = None
        self.file: Any = None
        self.item_ids = np.array(item_ids, dtype=object)
        self.items = pa.array(item_ids, pa.string())
        self.plain = not _needs_quotes(self.items)

    def __enter__(self) -> Callable[[list[str], np.ndarray, np.ndarray], None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.write

    def write(self, ids: list[str], idx: np.ndarray, scores: np.ndarray) -> None:
        if self.path.suffix == ".parquet":
            table = pa.Table.from_pandas(
                _frame(ids, self.item_ids, idx, scores), preserve_index=False
            )
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.tmp, table.schema)
            self.parquet.write_table(table)
            return
        if self.file is None:
            self.file = open(self.tmp, "wb")  # noqa: SIM115 (closed in __exit__)
            self.file.write((",".join(HEADER) + "\n").encode())
        customers = pa.array(ids, pa.string())
        if not (self.plain and not _needs_quotes(customers)):
            frame = _frame(ids, self.item_ids, idx, scores)
            self.file.write(frame.to_csv(header=False, index=False).encode())
            return
        k = idx.shape[1]
        keep = np.flatnonzero((idx >= 0).ravel())
        table = pa.table({
            "customer_id": customers.take(pa.array(keep // k)),
            "rank": pa.array(keep % k + 1),
            "item_id": self.items.take(pa.array(idx.ravel()[keep])),
            "score": _score_text(scores.ravel()[keep]),
        })  # fmt: skip
        pcsv.write_csv(table, self.file, pcsv.WriteOptions(include_header=False,
                                                           quoting_style="none"))  # fmt: skip

    def __exit__(self, *exc: object) -> None:
        for handle in (self.parquet, self.file):
            if handle is not None:
                handle.close()
        if exc[0] is not None:
            self.tmp.unlink(missing_ok=True)
            return
        if self.parquet is None and self.file is None:  # nobody listed: the columns alone
            empty = pd.DataFrame(columns=list(HEADER))
            if self.path.suffix == ".parquet":
                pq.write_table(pa.Table.from_pandas(empty, preserve_index=False), self.tmp)
            else:
                empty.to_csv(self.tmp, index=False)
        self.tmp.replace(self.path)


def _frame(
    ids: list[str], item_ids: np.ndarray, idx: np.ndarray, scores: np.ndarray
) -> pd.DataFrame:
    """Long table `customer_id, rank, item_id, score` (padding dropped), rank from 1."""
    n, k = idx.shape
    keep = (idx >= 0).ravel()
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.asarray(ids, dtype=object), k)[keep],
            "rank": np.tile(np.arange(1, k + 1), n)[keep],
            "item_id": item_ids[idx.ravel()[keep]],
            "score": scores.ravel()[keep],
        }
    )


def _needs_quotes(strings: pa.Array) -> bool:
    """Whether `to_csv` would quote one of these (a comma, a quote or a line break in it)."""
    return bool(len(strings)) and pc.any(pc.match_substring_regex(strings, '[,"\r\n]')).as_py()


def _score_text(scores: np.ndarray) -> pa.Array:
    """float32 scores as `to_csv` writes them (numpy's shortest repr, `1.0` not `1`, NaN as
    ''): Arrow's shortest digits, with numpy's own formatting outside [1e-3, 1e5) where the
    two differ in notation."""
    text = pc.cast(pa.array(scores, pa.float32()), pa.string())
    whole = pc.invert(pc.match_substring_regex(text, "[.eEnN]"))
    text = pc.if_else(whole, pc.binary_join_element_wise(text, ".0", ""), text)
    size = np.abs(scores)
    odd = np.flatnonzero(~((size >= 1e-3) & (size < 1e5)))
    if not len(odd):
        return text
    out = text.to_numpy(zero_copy_only=False).astype(object)
    out[odd] = [("" if np.isnan(v) else str(v)) for v in scores[odd]]
    return pa.array(out, pa.string())
