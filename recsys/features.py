"""Turn customer and item attribute tables into sparse one-hot feature matrices.

Whatever columns are given become features: categories and short strings as `col=value`,
`;`-separated lists (tags, segments) as one feature per element, numbers (price, birth
year, points) as quantile bands. The fitted vocabulary and band edges serialise to JSON so
a new customer or item is encoded exactly as at training time.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from contracts.errors import InvalidInput

LIST_COLUMNS = frozenset({"tags", "channels", "target_segments", "segments"})


class FeatureEncoder:
    """One-hot encoder over the attribute columns of a table (all but `id_column`)."""

    def __init__(
        self,
        id_column: str,
        *,
        columns: Iterable[str] | None = None,
        n_bands: int = 4,
        max_levels: int = 200,
    ) -> None:
        self.id_column = id_column
        self.columns = None if columns is None else list(columns)
        self.n_bands = n_bands
        self.max_levels = max_levels
        self.kinds: dict[str, str] = {}  # column -> "cat" | "list" | "num"
        self.edges: dict[str, list[float]] = {}
        self.vocabulary: dict[str, int] = {}

    def fit(self, table: pd.DataFrame) -> FeatureEncoder:
        if self.id_column not in table:
            raise InvalidInput(f"feature table lacks id column {self.id_column!r}")
        names = self.columns or [c for c in table.columns if c != self.id_column]
        tokens: list[str] = []
        for col in names:
            if col not in table:
                raise InvalidInput(f"feature column {col!r} not in table")
            s = table[col]
            if pd.api.types.is_datetime64_any_dtype(s):
                continue
            if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
                kind = "list" if col in LIST_COLUMNS else "cat"
                values = _tokens(s, kind == "list")
                levels = sorted({v for row in values for v in row})
                if kind == "cat" and len(levels) > self.max_levels:
                    continue  # free text / ids: one feature per row teaches nothing
                self.kinds[col] = kind
                tokens += [f"{col}={v}" for v in levels]
            else:
                num = pd.to_numeric(s, errors="coerce").astype("float64").dropna()
                if num.empty:
                    continue
                qs = np.unique(np.quantile(num, np.linspace(0, 1, self.n_bands + 1)[1:-1]))
                self.kinds[col] = "num"
                self.edges[col] = [float(q) for q in qs]
                tokens += [f"{col}=band{b}" for b in range(len(qs) + 1)]
        self.vocabulary = {t: i for i, t in enumerate(tokens)}
        return self

    def __len__(self) -> int:
        return len(self.vocabulary)

    def transform(self, table: pd.DataFrame) -> sp.csr_matrix:
        """(rows, features) 0/1 matrix; values never seen at fit time are ignored."""
        rows: list[int] = []
        cols: list[int] = []
        for col, kind in self.kinds.items():
            if col not in table:
                continue  # a cold-start record may carry fewer attributes
            s = table[col]
            if kind == "num":
                num = pd.to_numeric(s, errors="coerce").astype("float64").to_numpy()
                band = np.searchsorted(self.edges[col], num, side="right")
                values: list[list[str]] = [
                    [] if np.isnan(v) else [f"band{b}"] for v, b in zip(num, band, strict=True)
                ]
            else:
                values = _tokens(s, kind == "list")
            for r, row in enumerate(values):
                for v in row:
                    j = self.vocabulary.get(f"{col}={v}")
                    if j is not None:
                        rows.append(r)
                        cols.append(j)
        data = np.ones(len(rows), dtype=np.float32)
        return sp.csr_matrix((data, (rows, cols)), shape=(len(table), len(self)))

    def to_json(self) -> dict[str, Any]:
        return {
            "id_column": self.id_column,
            "columns": self.columns,
            "n_bands": self.n_bands,
            "max_levels": self.max_levels,
            "kinds": self.kinds,
            "edges": self.edges,
            "vocabulary": list(self.vocabulary),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeatureEncoder:
        enc = cls(
            data["id_column"],
            columns=data["columns"],
            n_bands=int(data["n_bands"]),
            max_levels=int(data["max_levels"]),
        )
        enc.kinds = dict(data["kinds"])
        enc.edges = {k: list(v) for k, v in data["edges"].items()}
        enc.vocabulary = {t: i for i, t in enumerate(data["vocabulary"])}
        return enc


def _tokens(s: pd.Series, split: bool) -> list[list[str]]:
    text = s.astype("string").fillna("").to_numpy(dtype=object)
    if split:
        return [[t.strip() for t in str(v).split(";") if t.strip()] for v in text]
    return [[str(v)] if str(v) != "" else [] for v in text]


def aligned_features(
    encoder: FeatureEncoder, table: pd.DataFrame, ids: np.ndarray
) -> sp.csr_matrix:
    """Feature rows in the order of `ids` (rows for ids absent from `table` are empty)."""
    key = table[encoder.id_column].astype(str).to_numpy()
    pos = pd.Index(key).get_indexer(pd.Index(np.asarray(ids, dtype=object).astype(str)))
    feats = encoder.transform(table)
    out = sp.vstack([feats, sp.csr_matrix((1, feats.shape[1]), dtype=np.float32)]).tocsr()
    return sp.csr_matrix(out[np.where(pos < 0, feats.shape[0], pos)], dtype=np.float32)
