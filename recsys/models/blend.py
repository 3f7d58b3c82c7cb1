"""A weighted blend of other recommenders, each member's scores standardised per customer.

Per-row z-scores put an item-item model (EASE) and a factor model (ALS) on one scale, so a
blend weight means the same thing whatever the members' raw score ranges are.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.models.base import Recommender, SideData


def standardise(scores: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Row-wise z-scores (a constant row becomes zeros); `inplace` reuses the array."""
    s = np.asarray(scores, dtype=np.float32)
    if not inplace or not s.flags.writeable:
        s = s.copy()
    s -= s.mean(axis=1, keepdims=True)
    # population std from one fused pass (einsum avoids a squared temporary)
    std = np.sqrt(np.einsum("ij,ij->i", s, s) / max(s.shape[1], 1))
    s /= np.where(std > 0, std, 1.0).astype(np.float32)[:, None]
    return s


class BlendRecommender(Recommender):
    """`members`: list of {"model": name, "params": {...}, "weight": w}."""

    name = "blend"
    defaults: ClassVar[dict[str, Any]] = {"members": []}

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from recsys.models import create_model  # the factory imports this module

        members = self.params["members"]
        if not members:
            raise InvalidInput("blend: needs at least one member")
        for m in members:
            if set(m) != {"model", "params", "weight"}:
                raise InvalidInput("blend: each member needs model, params and weight")
        self.models = [create_model(m["model"], **m["params"]) for m in members]
        self.weights = [float(m["weight"]) for m in members]

    @classmethod
    def of(cls, fitted: list[Recommender], weights: list[float]) -> BlendRecommender:
        """A blend of already-fitted models (no refit), e.g. to evaluate during selection."""
        members = [
            {"model": m.name, "params": m.params, "weight": float(w)}
            for m, w in zip(fitted, weights, strict=True)
        ]
        blend = cls(members=members)
        blend.models = list(fitted)
        blend.n_users, blend.n_items = fitted[0].n_users, fitted[0].n_items
        blend._fitted = True
        return blend

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        for m in self.models:
            m.fit(
                x,
                user_features=side.user_features,
                item_features=side.item_features,
                user_groups=side.groups,
            )

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        total: np.ndarray | None = None
        for m, w in zip(self.models, self.weights, strict=True):
            s = m.score(x, user_indices=user_indices, user_features=user_features)
            z = standardise(s, inplace=True)  # member scores are fresh arrays
            z *= np.float32(w)
            if total is None:
                total = z
            else:
                total += z
        assert total is not None  # a blend has at least one member
        return total

    @property
    def reads_user_features(self) -> bool:
        return any(m.reads_user_features for m in self.models)

    def item_vectors(self) -> np.ndarray | None:
        for m in self.models:
            v = m.item_vectors()
            if v is not None:
                return v
        return None

    def fold_in_params(self) -> dict[str, float] | None:
        # only when the factors item_vectors() returns belong to a fold-in-able member
        for m in self.models:
            if m.item_vectors() is not None:
                return m.fold_in_params()
        return None

    def _item_similarity(self, item_indices: np.ndarray) -> np.ndarray:
        total = np.zeros((item_indices.size, self.n_items), dtype=np.float32)
        for m, w in zip(self.models, self.weights, strict=True):
            total += w * standardise(m._item_similarity(item_indices))
        return total

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays: dict[str, np.ndarray] = {}
        states = []
        for i, m in enumerate(self.models):
            a, st = m._state()
            arrays.update({f"m{i}__{k}": v for k, v in a.items()})
            states.append(st)
        return arrays, {"members": states}

    def _restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        for i, (m, st) in enumerate(zip(self.models, state["members"], strict=True)):
            prefix = f"m{i}__"
            m._restore({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}, st)
            m.n_users, m.n_items = self.n_users, self.n_items
            m._fitted = True
