"""EASE (Steck 2019): a closed-form item-item linear model, a few lines of numpy.

B = I - P·diag(1/diag(P)) with P = (XᵀX + λI)⁻¹ and diag(B) = 0. Strong on many public
benchmarks, but it needs a dense items x items inverse, so it refuses large catalogues.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.errors import ModelTooLargeError
from recsys.models.base import Recommender, SideData


class EASERecommender(Recommender):
    """EASE with L2 strength `lambda_`; `binary` fits on 0/1 interactions (usually best)."""

    name = "ease"
    defaults: ClassVar[dict[str, Any]] = {"lambda_": 300.0, "binary": True, "max_items": 15000}

    saved_arrays = ("weights",)
    weights: np.ndarray

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        n = x.shape[1]
        if n > int(self.params["max_items"]):
            raise ModelTooLargeError(
                f"ease: {n} items exceed max_items={self.params['max_items']} "
                f"(the {n}x{n} inverse would need {n * n * 8 / 2**30:.1f} GiB per copy)"
            )
        if self.params["binary"]:
            x = x.copy()
            x.data = np.ones_like(x.data)
        gram = (x.T @ x).toarray().astype(np.float64)
        gram[np.diag_indices(n)] += float(self.params["lambda_"])
        p = np.linalg.inv(gram)
        b = p / (-np.diag(p))
        b[np.diag_indices(n)] = 0.0
        self.weights = b.astype(np.float32)

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        if self.params["binary"]:
            x = x.copy()
            x.data = np.ones_like(x.data)
        return np.asarray(x @ self.weights, dtype=np.float32)

    def _item_similarity(self, item_indices: np.ndarray) -> np.ndarray:
        return self.weights[item_indices]
