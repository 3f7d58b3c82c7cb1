"""Erasure from the data directory: every table, ingested partition and export, rewritten.

Every file under the data directory is read by its format and rewritten only when it names
an erased customer in a customer field or column (`contracts.tombstones.CUSTOMER_FIELDS`:
an item whose id equals a customer's is left alone), atomically (temporary file, fsync,
rename, fsync of the directory: a reader sees the old file or the new one): Parquet and CSV
lose those rows (tables, `DIR/events/` partitions, recommend and case exports, segment
files); NDJSON loses the lines and JSON the list elements that name one; `.npz` files (the
model registry's `ids.npz`, its `customers` array) get `{erased:ROW}` in place of the id
(an id never holds braces): a model keeps its shape and forgets who a row was until its next
training. The embedded server's own files (`DIR/.redis`) are Redis's (`store.erase.forget_on_disk`);
the tombstone file and key hold no id.

Which values are erased is a function of the distinct values of a column: the ids themselves
(`touchpoint erase`) or a test of their keyed hash against tombstones made elsewhere (the
API's erasures, applied by `touchpoint ingest`: `apply_tombstones`).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contracts.tombstones import CUSTOMER_FIELDS, KEY_FILE, TOMBSTONES_FILE
from jobs.atomic import replace_file


class Matcher:
    """Which of some distinct values are erased: the ids themselves (`ids`, which Arrow then
    matches in bulk), or any test of a value (`test`: the tombstones' keyed hashes)."""

    def __init__(
        self, *, ids: Collection[str] = (), test: Callable[[str], bool] | None = None
    ) -> None:
        self.ids = frozenset(ids)
        self.test = test

    def __call__(self, values: Iterable[str]) -> set[str]:
        if self.test is None:
            return {v for v in values if v in self.ids}
        return {v for v in values if self.test(v)}


SKIPPED_DIRS = frozenset({".redis"})
SKIPPED_FILES = frozenset({TOMBSTONES_FILE, KEY_FILE})


@dataclass
class FilesErased:
    """Which files were rewritten and how many rows, lines or ids they lost."""

    files: list[str] = field(default_factory=list)
    removed: int = 0
    unread: list[str] = field(default_factory=list)  # formats this does not rewrite


def id_matcher(ids: Collection[str]) -> Matcher:
    return Matcher(ids=ids)


def erase_files(data_dir: Path, matcher: Matcher) -> FilesErased:
    """Rewrite every file of `data_dir` naming an erased customer (see the module)."""
    done = FilesErased()
    for path in sorted(_files(data_dir)):
        rewrite = _REWRITERS.get(path.suffix.lower())
        if rewrite is None:
            done.unread.append(str(path))
            continue
        removed = rewrite(path, matcher)
        if removed:
            done.files.append(str(path))
            done.removed += removed
    return done


def _files(root: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in SKIPPED_DIRS]
        for name in filenames:
            if name not in SKIPPED_FILES and not name.startswith("."):
                yield Path(dirpath) / name


def _parquet(path: Path, matcher: Matcher) -> int:
    table = pq.read_table(path)
    keep = _keep_mask(table, matcher)
    if keep is None:
        return 0
    meta = pq.ParquetFile(path).metadata
    codec = meta.row_group(0).column(0).compression if meta.num_row_groups else "SNAPPY"
    buffer = io.BytesIO()
    pq.write_table(table.filter(keep), buffer, compression=codec.lower())  # as it was written
    replace_file(path, buffer.getvalue())
    return table.num_rows - int(pc.sum(keep).as_py() or 0)


def _keep_mask(table: pa.Table, matcher: Matcher) -> pa.ChunkedArray | None:
    hit = None
    for name, column in zip(table.column_names, table.columns, strict=True):
        text = pa.types.is_string(column.type) or pa.types.is_large_string(column.type)
        if name not in CUSTOMER_FIELDS or not text:
            continue
        erased: Collection[str]
        if matcher.test is None:  # the ids themselves: Arrow matches them, no Python per value
            erased = matcher.ids
        else:
            erased = matcher(v for v in pc.unique(column).to_pylist() if v is not None)
        if erased:
            found = pc.fill_null(pc.is_in(column, value_set=pa.array(sorted(erased))), False)
            if not pc.any(found).as_py():
                continue
            hit = found if hit is None else pc.or_(hit, found)
    return None if hit is None else pc.invert(hit)


def _csv(path: Path, matcher: Matcher) -> int:
    if path.stat().st_size == 0:
        return 0
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    hit = pd.Series(False, index=frame.index)
    for name in frame.columns:
        if name not in CUSTOMER_FIELDS:
            continue
        erased = matcher(frame[name].unique().tolist())
        if erased:
            hit |= frame[name].isin(erased)
    if not hit.any():
        return 0
    buffer = io.StringIO()
    frame.loc[~hit].to_csv(buffer, index=False)
    replace_file(path, buffer.getvalue().encode())
    return int(hit.sum())


def _names(value: Any, matcher: Matcher) -> bool:
    """Whether a JSON value names an erased customer in a customer field, at any depth."""
    if isinstance(value, dict):
        named = [v for k, v in value.items() if k in CUSTOMER_FIELDS and isinstance(v, str)]
        return bool(matcher(named)) or any(_names(v, matcher) for v in value.values())
    if isinstance(value, list):
        return any(_names(v, matcher) for v in value)
    return False


def _ndjson(path: Path, matcher: Matcher) -> int:
    lines = path.read_bytes().splitlines(keepends=True)
    kept = [line for line in lines if not line.strip() or not _names(json.loads(line), matcher)]
    if len(kept) == len(lines):
        return 0
    replace_file(path, b"".join(kept))
    return len(lines) - len(kept)


def _prune(value: Any, matcher: Matcher) -> tuple[Any, int]:
    """Lists lose the elements naming an erased customer; a dict naming one directly loses
    that field."""
    if isinstance(value, list):
        kept, removed = [], 0
        for element in value:
            if _names(element, matcher):
                removed += 1
            else:
                kept.append(element)
        return kept, removed
    if isinstance(value, dict):
        out, removed = {}, 0
        for k, v in value.items():
            if k in CUSTOMER_FIELDS and isinstance(v, str) and matcher([v]):
                removed += 1
                continue
            out[k], n = _prune(v, matcher)
            removed += n
        return out, removed
    return value, 0


def _json(path: Path, matcher: Matcher) -> int:
    value = json.loads(path.read_bytes())  # not orjson: model files may hold NaN
    pruned, removed = _prune(value, matcher)
    if removed:
        replace_file(path, json.dumps(pruned, indent=2, sort_keys=True, default=str).encode())
    return removed


def _npz(path: Path, matcher: Matcher) -> int:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    removed = 0
    for name, array in arrays.items():
        if array.dtype.kind != "U" or name not in CUSTOMER_FIELDS:
            continue
        erased = matcher(np.unique(array).tolist())
        if not erased:
            continue
        rows = np.flatnonzero(np.isin(array.ravel(), sorted(erased)))
        if len(rows):
            flat = array.ravel().astype(object)
            flat[rows] = [f"{{erased:{r}}}" for r in rows]
            arrays[name] = flat.astype(str).reshape(array.shape)
            removed += len(rows)
    if removed:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)  # type: ignore[arg-type]
        replace_file(path, buffer.getvalue())
    return removed


_REWRITERS: dict[str, Callable[[Path, Matcher], int]] = {
    ".parquet": _parquet,
    ".csv": _csv,
    ".ndjson": _ndjson,
    ".jsonl": _ndjson,
    ".json": _json,
    ".npz": _npz,
}
