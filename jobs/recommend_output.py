"""Where `touchpoint recommend` writes: CSV (or Parquet by its suffix), streamed block by
block, the file appearing whole or not at all."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

HEADER = ("customer_id", "rank", "item_id", "score")


class Writer:
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
