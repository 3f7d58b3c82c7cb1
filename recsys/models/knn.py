"""Item-item nearest neighbours from implicit (cosine or BM25-weighted).

Scores are the customer's history times the sparse item-item similarity, so any customer,
seen or not, is scored from their interactions alone.
"""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.models.base import Recommender, SideData


class ItemKNNRecommender(Recommender):
    """Item-item KNN; `similarity` is "bm25" (K1, B) or "cosine"; K neighbours per item."""

    name = "item_knn"
    defaults: ClassVar[dict[str, Any]] = {"similarity": "bm25", "K": 100, "K1": 1.2, "B": 0.75}

    saved_sparse = ("similarity",)
    similarity: sp.csr_matrix

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        from implicit.nearest_neighbours import BM25Recommender, CosineRecommender

        p = self.params
        model: BM25Recommender | CosineRecommender
        if p["similarity"] == "bm25":
            model = BM25Recommender(K=int(p["K"]), K1=float(p["K1"]), B=float(p["B"]))
        elif p["similarity"] == "cosine":
            model = CosineRecommender(K=int(p["K"]))
        else:
            raise InvalidInput(f"item_knn: unknown similarity {p['similarity']!r}")
        with warnings.catch_warnings():  # implicit converts its own transposes internally
            warnings.simplefilter("ignore", category=Warning)
            model.fit(x, show_progress=False)
        self.similarity = sp.csr_matrix(model.similarity, dtype=np.float32)

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        return np.asarray((x @ self.similarity).toarray(), dtype=np.float32)

    def _item_similarity(self, item_indices: np.ndarray) -> np.ndarray:
        return np.asarray(self.similarity[item_indices].toarray(), dtype=np.float32)
