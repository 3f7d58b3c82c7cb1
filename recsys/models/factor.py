"""Matrix-factorisation models from implicit: ALS and BPR.

Both end as user and item factor matrices (score = user · item). Customers the model has not
seen are folded in from their interaction row with the ALS least-squares step, so a
brand-new customer's first clicks already change the ranking.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.models.base import Recommender, SideData
from recsys.serving import fold_in

# how implicit takes each argument: these as given, the others as floats
_ARGUMENT_TYPES: dict[str, Callable[[Any], Any]] = {
    "factors": int,
    "iterations": int,
    "random_state": lambda seed: seed,
}


class FactorModel(Recommender):
    """Shared scoring and persistence for models that end as two factor matrices."""

    estimator: ClassVar[str]  # implicit's class, "module:Class"; its arguments are `defaults`
    saved_arrays = ("user_factors", "item_factors")
    saved_state = ("fold_in_regularization",)
    user_factors: np.ndarray
    item_factors: np.ndarray
    fold_in_regularization: float = 0.1

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        users = np.empty((x.shape[0], self.item_factors.shape[1]), dtype=np.float32)
        known = user_indices >= 0
        users[known] = self.user_factors[user_indices[known]]
        unknown = np.flatnonzero(~known)
        if unknown.size:
            yty = self.item_factors.T.astype(np.float64) @ self.item_factors
            for row in unknown:
                lo, hi = x.indptr[row], x.indptr[row + 1]
                users[row] = fold_in(
                    self.item_factors,
                    self.fold_in_regularization,
                    x.indices[lo:hi],
                    x.data[lo:hi],
                    yty=yty,
                )
        return users @ self.item_factors.T

    def item_vectors(self) -> np.ndarray | None:
        return self.item_factors

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        """Fit implicit's `estimator` with the model's params (the same names) and keep its
        factors as contiguous float32."""
        module, _, name = self.estimator.partition(":")
        cls = getattr(importlib.import_module(module), name)  # implicit loads only to train
        model = cls(**{k: _ARGUMENT_TYPES.get(k, float)(v) for k, v in self.params.items()})
        model.fit(x, show_progress=False)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.fold_in_regularization = self._fold_in_ridge()

    def _fold_in_ridge(self) -> float:
        return float(self.params["regularization"])


class ALSRecommender(FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via implicit."""

    name = "als"
    estimator = "implicit.cpu.als:AlternatingLeastSquares"
    defaults: ClassVar[dict[str, Any]] = {
        "factors": 64,
        "regularization": 0.05,
        "alpha": 1.0,
        "iterations": 15,
        "random_state": 42,
    }

    def fold_in_params(self) -> dict[str, float] | None:
        return {
            "regularization": float(self.params["regularization"]),
            "alpha": float(self.params["alpha"]),
        }

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        # fold-in must see the same confidences as training: implicit scales by alpha
        scaled = x if self.params["alpha"] == 1.0 else x * float(self.params["alpha"])
        return super()._score(sp.csr_matrix(scaled), user_indices, user_features)


class BPRRecommender(FactorModel):
    """Bayesian personalised ranking (Rendle et al. 2009) via implicit.

    implicit stores the item bias as the last item factor and a constant 1 as the last user
    factor, so the plain dot product already includes the bias.
    """

    name = "bpr"
    estimator = "implicit.cpu.bpr:BayesianPersonalizedRanking"
    defaults: ClassVar[dict[str, Any]] = {
        "factors": 64,
        "learning_rate": 0.01,  # implicit's default; 0.05 diverges to poor rankings
        "regularization": 0.01,
        "iterations": 100,
        "random_state": 42,
    }

    def _fold_in_ridge(self) -> float:
        # fold-in for BPR factors is an approximation: least squares with a firm ridge
        return 1.0
