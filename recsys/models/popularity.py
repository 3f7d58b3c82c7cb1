"""Popularity baselines: global, per customer group (segment), and any custom item prior.

Per-channel and trending (time-decayed) popularity are the same model fitted on a different
matrix (events of one channel; weights with a half-life); the published popular lists are
`jobs.published_tables.popular_lists`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.models.base import Recommender, SideData


class PopularityRecommender(Recommender):
    """Ranks items by how many customers interacted (`count`) or by summed confidence (`sum`).

    With `user_groups` at fit, customers in a group get their group's ranking, blended with
    the global one by `shrinkage` pseudo-customers so small groups stay sensible.
    """

    name = "popularity"
    defaults: ClassVar[dict[str, Any]] = {"measure": "count", "shrinkage": 10.0}

    saved_arrays = ("global_scores", "group_scores", "user_groups")
    global_scores: np.ndarray
    group_scores: np.ndarray  # (n_groups, n_items)
    user_groups: np.ndarray  # group per training customer, -1 = none

    def _fit(self, x: sp.csr_matrix, side: SideData) -> None:
        if self.params["measure"] == "count":
            x = x.copy()
            x.data = np.ones_like(x.data)
        elif self.params["measure"] != "sum":
            raise InvalidInput(f"popularity: unknown measure {self.params['measure']!r}")
        totals = np.asarray(x.sum(axis=0)).ravel()
        self.global_scores = (totals / max(x.shape[0], 1)).astype(np.float32)
        groups = side.groups
        if groups is None:
            self.user_groups = np.full(x.shape[0], -1, np.int64)
            self.group_scores = np.zeros((0, x.shape[1]), np.float32)
            return
        g = np.asarray(groups, dtype=np.int64)
        if g.shape != (x.shape[0],):
            raise InvalidInput("user_groups needs one label per customer row")
        n_groups = int(g.max()) + 1 if g.size else 0
        shrink = float(self.params["shrinkage"])
        rows = []
        for grp in range(n_groups):
            members = g == grp
            part = np.asarray(x[members].sum(axis=0)).ravel()
            rows.append((part + shrink * self.global_scores) / (members.sum() + shrink))
        self.user_groups = g
        self.group_scores = np.asarray(rows, np.float32).reshape(n_groups, x.shape[1])

    def _score(
        self, x: sp.csr_matrix, user_indices: np.ndarray, user_features: sp.csr_matrix | None
    ) -> np.ndarray:
        out = np.tile(self.global_scores, (x.shape[0], 1))
        known = user_indices >= 0
        grp = np.full(x.shape[0], -1, np.int64)
        grp[known] = self.user_groups[user_indices[known]]
        has = grp >= 0
        out[has] = self.group_scores[grp[has]]
        return out

    def _item_similarity(self, item_indices: np.ndarray) -> np.ndarray:
        # popularity knows nothing about items: "similar" is simply "popular"
        return np.tile(self.global_scores, (item_indices.size, 1))
