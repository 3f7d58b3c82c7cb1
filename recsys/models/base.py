"""The one interface every recommender implements, documented here once.

Models work on matrix indices (rows = customers, columns = items of an `IdMap`); mapping to
external ids is the caller's job, so indices never leak out as business ids. Scoring is
batched and vectorised; persistence is `.npz` + JSON, loaded with `allow_pickle=False`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.errors import ModelFileError, NotFittedError
from recsys.serving import top_k_rows

ARRAYS_FILE = "model.npz"
META_FILE = "model.json"
BATCH_USERS = 256  # rows scored and ranked at once: ~20 MB of scores, reused and in cache


def as_csr(matrix: sp.spmatrix | sp.sparray | np.ndarray) -> sp.csr_matrix:
    """CSR float32 view of a user-item matrix (what every model consumes)."""
    return sp.csr_matrix(matrix, dtype=np.float32)


def pack_sparse(prefix: str, m: sp.csr_matrix) -> dict[str, np.ndarray]:
    """Arrays of a CSR matrix under `prefix_*` keys, for `.npz` storage."""
    m = sp.csr_matrix(m)
    return {
        f"{prefix}_data": m.data,
        f"{prefix}_indices": m.indices,
        f"{prefix}_indptr": m.indptr,
        f"{prefix}_shape": np.asarray(m.shape, dtype=np.int64),
    }


def unpack_sparse(prefix: str, arrays: dict[str, np.ndarray]) -> sp.csr_matrix:
    shape = tuple(int(s) for s in arrays[f"{prefix}_shape"])
    return sp.csr_matrix(
        (arrays[f"{prefix}_data"], arrays[f"{prefix}_indices"], arrays[f"{prefix}_indptr"]),
        shape=shape,
    )


@dataclass(frozen=True)
class SideData:
    """What `fit` may learn from besides the interactions (rows aligned with the matrix)."""

    user_features: sp.csr_matrix | None = None
    item_features: sp.csr_matrix | None = None
    groups: np.ndarray | None = None  # an int label per customer row, -1 = none


class Recommender(ABC):
    """Base of all recommenders.

    Parameters
    ----------
    **params
        Hyper-parameters of the implementation (see `defaults`); unknown names raise
        `InvalidInput`.

    Methods
    -------
    fit(interactions, *, user_features=None, item_features=None, user_groups=None)
        Learn from a customers x items confidence matrix (CSR). Feature matrices (rows
        aligned with the matrix) are used by hybrid models; `user_groups` (an int label per
        customer row, -1 = none) by segment-aware popularity. Returns self.
    score(user_items, *, user_indices=None, user_features=None)
        Dense (n, n_items) float32 scores for n customers. `user_items` holds their
        interaction rows (used by history-based models and to fold in customers the model
        has not seen); `user_indices` are their training rows, -1 for unknown customers.
    recommend(user_items, k, *, user_indices=None, user_features=None, exclude_seen=True,
              exclude=None)
        Top-k (items, scores), each (n, k), best first; items already in `user_items` are
        excluded when `exclude_seen`, and `exclude` (sparse n x n_items, or a 1-D mask of
        items) removes more. Rows with fewer than k candidates are padded with -1.
    similar_items(item_indices, k)
        Top-k most similar other items for each item, as (items, scores).
    item_vectors()
        Dense item representation (factors) or None; used for diversity metrics.
    save(directory) / load(directory)
        Write/read `model.npz` + `model.json` (never pickle): the attributes named in
        `saved_arrays` (dense) and `saved_sparse` (CSR) go to the `.npz`, those in
        `saved_state` (JSON scalars) to the JSON's "state".
    """

    name: ClassVar[str] = "base"
    defaults: ClassVar[dict[str, Any]] = {}
    #: True when `score` can rank a customer with no history from `user_features` alone
    scores_from_features: ClassVar[bool] = False
    saved_arrays: ClassVar[tuple[str, ...]] = ()
    saved_sparse: ClassVar[tuple[str, ...]] = ()
    saved_state: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any) -> None:
        unknown = set(params) - set(self.defaults)
        if unknown:
            raise InvalidInput(f"{self.name}: unknown parameter(s) {sorted(unknown)}")
        self.params: dict[str, Any] = {**self.defaults, **params}
        self.n_users = 0
        self.n_items = 0
        self._fitted = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params})"

    # -- training -------------------------------------------------------------------------
    def fit(
        self,
        interactions: sp.spmatrix | sp.sparray,
        *,
        user_features: sp.csr_matrix | None = None,
        item_features: sp.csr_matrix | None = None,
        user_groups: np.ndarray | None = None,
    ) -> Self:
        x = as_csr(interactions)
        if x.nnz == 0:
            raise InvalidInput(f"{self.name}: no interactions to learn from")
        if x.data.min() < 0 or not np.isfinite(x.data).all():
            raise InvalidInput(f"{self.name}: confidences must be finite and >= 0")
        self.n_users, self.n_items = x.shape
        self._fit(x, SideData(user_features, item_features, user_groups))
        self._fitted = True
        return self

    @abstractmethod
    def _fit(self, x: sp.csr_matrix, side: SideData) -> None: ...

    # -- scoring --------------------------------------------------------------------------
    def score(
        self,
        user_items: sp.spmatrix | sp.sparray,
        *,
        user_indices: np.ndarray | None = None,
        user_features: sp.csr_matrix | None = None,
    ) -> np.ndarray:
        self._check_fitted()
        x = as_csr(user_items)
        if x.shape[1] != self.n_items:
            raise InvalidInput(f"user_items has {x.shape[1]} columns, model {self.n_items}")
        idx = (
            np.full(x.shape[0], -1, np.int64) if user_indices is None else np.asarray(user_indices)
        )
        if idx.shape != (x.shape[0],):
            raise InvalidInput("user_indices must have one entry per user_items row")
        if idx.size and idx.max() >= self.n_users:
            raise InvalidInput(f"user index out of range 0..{self.n_users - 1}")
        out = np.asarray(self._score(x, idx, user_features), dtype=np.float32)
        return out

    @abstractmethod
    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray: ...

    def recommend(
        self,
        user_items: sp.spmatrix | sp.sparray,
        k: int,
        *,
        user_indices: np.ndarray | None = None,
        user_features: sp.csr_matrix | None = None,
        exclude_seen: bool = True,
        exclude: sp.spmatrix | sp.sparray | np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        x = as_csr(user_items)
        n = x.shape[0]
        idx = np.full(n, -1, np.int64) if user_indices is None else np.asarray(user_indices)
        items = np.empty((n, k), np.int64)
        scores = np.empty((n, k), np.float32)
        mask = None if exclude is None or sp.issparse(exclude) else np.asarray(exclude, bool)
        excl = as_csr(exclude) if exclude is not None and sp.issparse(exclude) else None
        for start in range(0, n, BATCH_USERS):
            sl = slice(start, min(n, start + BATCH_USERS))
            feats = None if user_features is None else user_features[sl]
            s = self.score(x[sl], user_indices=idx[sl], user_features=feats)
            s = s.copy() if not s.flags.writeable else s
            if exclude_seen:
                _mask_sparse(s, x[sl])
            if excl is not None:
                _mask_sparse(s, excl[sl])
            if mask is not None:
                s[:, mask] = -np.inf
            items[sl], scores[sl] = top_k_rows(s, k)
        return items, scores

    def similar_items(self, item_indices: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        idx = np.asarray(item_indices, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.n_items):
            raise InvalidInput(f"item index out of range 0..{self.n_items - 1}")
        sims = np.asarray(self._item_similarity(idx), dtype=np.float32).copy()
        sims[np.arange(idx.size), idx] = -np.inf  # an item is not its own neighbour
        return top_k_rows(sims, k)

    def _item_similarity(self, item_indices: np.ndarray) -> np.ndarray:
        """Default: cosine of item vectors; history-based models override."""
        v = self.item_vectors()
        if v is None:
            raise NotImplementedError(f"{self.name} has no item similarity")
        norm = np.linalg.norm(v, axis=1)
        norm[norm == 0] = 1.0
        unit = v / norm[:, None]
        return unit[item_indices] @ unit.T

    def item_vectors(self) -> np.ndarray | None:
        return None

    @property
    def reads_user_features(self) -> bool:
        """Whether `score` reads `user_features` (callers may skip building them)."""
        return self.scores_from_features

    def fold_in_params(self) -> dict[str, float] | None:
        """`{"regularization", "alpha"}` when `item_vectors()` are ALS factors that
        `recsys.serving.fold_in` can fold a fresh customer into; None otherwise."""
        return None

    # -- persistence ----------------------------------------------------------------------
    def save(self, directory: str | Path) -> Path:
        self._check_fitted()
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        arrays, state = self._state()
        np.savez(path / ARRAYS_FILE, **arrays)  # type: ignore[arg-type]
        meta = {
            "model": self.name,
            "params": self.params,
            "n_users": self.n_users,
            "n_items": self.n_items,
            "state": state,
        }
        (path / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> Recommender:
        path = Path(directory)
        try:
            meta = json.loads((path / META_FILE).read_text())
            with np.load(path / ARRAYS_FILE, allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read model in {path}: {exc}") from exc
        from recsys.models import model_class  # the factory knows every implementation

        impl = model_class(meta["model"])
        if cls is not Recommender and not issubclass(impl, cls):
            raise ModelFileError(f"{path} holds a {meta['model']} model, not {cls.name}")
        model = impl(**meta["params"])
        model.n_users, model.n_items = int(meta["n_users"]), int(meta["n_items"])
        model._restore(arrays, meta.get("state", {}))
        model._fitted = True
        return model

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The `.npz` arrays and the JSON state of a fitted model (see `saved_arrays`)."""
        arrays = {name: getattr(self, name) for name in self.saved_arrays}
        for name in self.saved_sparse:
            arrays.update(pack_sparse(name, getattr(self, name)))
        return arrays, {name: getattr(self, name) for name in self.saved_state}

    def _restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        for name in self.saved_arrays:
            setattr(self, name, arrays[name])
        for name in self.saved_sparse:
            setattr(self, name, unpack_sparse(name, arrays))
        for name in self.saved_state:
            setattr(self, name, state[name])

    def _check_fitted(self) -> None:
        if not self._fitted:
            raise NotFittedError(f"{self.name} model used before fit/load")


def _mask_sparse(scores: np.ndarray, rows: sp.csr_matrix) -> None:
    """Set scores[i, j] = -inf wherever rows[i, j] is stored."""
    coo = rows.tocoo()
    scores[coo.row, coo.col] = -np.inf
