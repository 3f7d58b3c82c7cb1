"""LightFM WARP hybrid: collaborative signal plus customer and item attribute features.

Every customer and item is represented by the sum of the embeddings of its features: its
own identity (when it has interactions) and its attributes (tier, demographics, segments;
category, tags, price band). A customer or item with no history is therefore still scored,
from attributes alone — this is the cold-start model.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from recsys.models.base import Recommender, SideData


def _with_identity(attrs: sp.csr_matrix | None, n: int, active: np.ndarray) -> sp.csr_matrix:
    """[identity | attributes], identity only for rows with interactions, rows sum to 1."""
    ident = sp.diags(active.astype(np.float32), format="csr")
    m = ident if attrs is None or attrs.shape[1] == 0 else sp.hstack([ident, attrs]).tocsr()
    return _normalise(m)


def _normalise(m: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(m.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums) @ m, dtype=np.float32)


class LightFMRecommender(Recommender):
    """LightFM with WARP loss; user/item feature matrices are optional attribute one-hots."""

    name = "lightfm"
    scores_from_features = True
    defaults: ClassVar[dict[str, Any]] = {
        "no_components": 32,
        "learning_rate": 0.05,
        "item_alpha": 1e-6,
        "user_alpha": 1e-6,
        "max_sampled": 10,
        "epochs": 20,
        "max_seconds": None,
        "num_threads": 2,
        "random_state": 42,
    }

    saved_arrays = (
        "user_embeddings",
        "user_biases",
        "item_repr",
        "item_bias",
        "user_repr",
        "user_repr_bias",
    )
    user_embeddings: np.ndarray  # (n_users + n_user_attrs, d)
    user_biases: np.ndarray
    item_repr: np.ndarray  # (n_items, d)
    item_bias: np.ndarray  # (n_items,)
    user_repr: np.ndarray  # (n_users, d) known customers, identity + attributes
    user_repr_bias: np.ndarray

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        from lightfm import LightFM

        p = self.params
        uf = _with_identity(side.user_features, x.shape[0], np.diff(x.indptr) > 0)
        if_ = _with_identity(side.item_features, x.shape[1], np.diff(x.tocsc().indptr) > 0)
        model = LightFM(
            no_components=int(p["no_components"]),
            loss="warp",
            learning_rate=float(p["learning_rate"]),
            item_alpha=float(p["item_alpha"]),
            user_alpha=float(p["user_alpha"]),
            max_sampled=int(p["max_sampled"]),
            random_state=int(p["random_state"]),
        )
        binary = x.tocoo()
        binary.data = np.ones_like(binary.data)
        # epoch by epoch, so `max_seconds` can stop early; the epochs actually run are
        # recorded in params, so a refit from these params repeats the same training
        started = time.perf_counter()
        done = 0
        while done < int(p["epochs"]):
            model.fit_partial(
                binary, user_features=uf, item_features=if_, num_threads=int(p["num_threads"])
            )
            done += 1
            if p["max_seconds"] is not None and time.perf_counter() - started > p["max_seconds"]:
                break
        self.params["epochs"] = done
        self.params["max_seconds"] = None
        self.user_embeddings = np.asarray(model.user_embeddings, np.float32)
        self.user_biases = np.asarray(model.user_biases, np.float32)
        self.item_repr = np.asarray(if_ @ model.item_embeddings, np.float32)
        self.item_bias = np.asarray(if_ @ model.item_biases, np.float32)
        self.user_repr = np.asarray(uf @ self.user_embeddings, np.float32)
        self.user_repr_bias = np.asarray(uf @ self.user_biases, np.float32)

    def _cold_users(
        self, x: sp.csr_matrix, user_features: sp.csr_matrix | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Representation of unseen customers: attribute embeddings + mean of their items."""
        n = x.shape[0]
        n_attr = self.user_embeddings.shape[0] - self.n_users
        emb = np.zeros((n, self.item_repr.shape[1]), np.float32)
        bias = np.zeros(n, np.float32)
        if user_features is not None and n_attr > 0 and user_features.shape[1] == n_attr:
            f = _normalise(sp.csr_matrix(user_features))
            emb += f @ self.user_embeddings[self.n_users :]
            bias += f @ self.user_biases[self.n_users :]
        counts = np.diff(x.indptr)
        if counts.any():
            seen = sp.csr_matrix((np.ones_like(x.data), x.indices, x.indptr), shape=x.shape)
            emb += (_normalise(seen) @ self.item_repr) * (counts > 0)[:, None]
        return emb, bias

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        emb, bias = self._cold_users(x, user_features)
        known = user_indices >= 0
        emb[known] = self.user_repr[user_indices[known]]
        bias[known] = self.user_repr_bias[user_indices[known]]
        return emb @ self.item_repr.T + self.item_bias[None, :] + bias[:, None]

    def item_vectors(self) -> np.ndarray | None:
        return self.item_repr
