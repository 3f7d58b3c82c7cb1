"""Matrix-factorisation models from implicit: ALS and BPR.

Both end as user and item factor matrices (score = user · item). Customers the model has not
seen are folded in from their interaction row with the ALS least-squares step, so a
brand-new customer's first clicks already change the ranking.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.models.base import Recommender
from recsys.serving import fold_in


class FactorModel(Recommender):
    """Shared scoring and persistence for models that end as two factor matrices."""

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

    def _learn(self, model: Any, x: sp.csr_matrix, fold_in_regularization: float) -> None:
        """Fit an implicit model on `x` and keep its factors as contiguous float32."""
        model.fit(x, show_progress=False)
        self.user_factors = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.fold_in_regularization = fold_in_regularization

    def _state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        arrays = {"user_factors": self.user_factors, "item_factors": self.item_factors}
        return arrays, {"fold_in_regularization": self.fold_in_regularization}

    def _restore(self, arrays: dict[str, np.ndarray], state: dict[str, Any]) -> None:
        self.user_factors = arrays["user_factors"]
        self.item_factors = arrays["item_factors"]
        self.fold_in_regularization = float(state["fold_in_regularization"])


class ALSRecommender(FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via implicit."""

    name = "als"
    defaults: ClassVar[dict[str, Any]] = {
        "factors": 64,
        "regularization": 0.05,
        "alpha": 1.0,
        "iterations": 15,
        "random_state": 42,
    }

    def _fit(
        self,
        x: sp.csr_matrix,
        *,
        user_features: sp.csr_matrix | None,
        item_features: sp.csr_matrix | None,
        groups: np.ndarray | None,
    ) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        p = self.params
        model = AlternatingLeastSquares(
            factors=int(p["factors"]),
            regularization=float(p["regularization"]),
            alpha=float(p["alpha"]),
            iterations=int(p["iterations"]),
            random_state=p["random_state"],
        )
        self._learn(model, x, fold_in_regularization=float(p["regularization"]))

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
    defaults: ClassVar[dict[str, Any]] = {
        "factors": 64,
        "learning_rate": 0.01,  # implicit's default; 0.05 diverges to poor rankings
        "regularization": 0.01,
        "iterations": 100,
        "random_state": 42,
    }

    def _fit(
        self,
        x: sp.csr_matrix,
        *,
        user_features: sp.csr_matrix | None,
        item_features: sp.csr_matrix | None,
        groups: np.ndarray | None,
    ) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        p = self.params
        model = BayesianPersonalizedRanking(
            factors=int(p["factors"]),
            learning_rate=float(p["learning_rate"]),
            regularization=float(p["regularization"]),
            iterations=int(p["iterations"]),
            random_state=p["random_state"],
        )
        # fold-in for BPR factors is an approximation: least squares with a firm ridge
        self._learn(model, x, fold_in_regularization=1.0)
