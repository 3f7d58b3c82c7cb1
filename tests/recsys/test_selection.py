"""Automatic selection: picks a real model when there is structure, refuses bad ones."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from recsys.errors import ModelRejected
from recsys.models import create_model
from recsys.selection import Candidate, check_publishable, select_model
from recsys.split import random_split
from tests.recsys.factories import planted


def zipf_baskets(n_users: int = 200, n_items: int = 60, per_user: int = 6) -> sp.csr_matrix:
    """No personal taste at all: every customer draws from one skewed popularity law,
    so popularity is the best possible ranking."""
    rng = np.random.default_rng(3)
    p = 1.0 / np.arange(1, n_items + 1) ** 1.2
    p /= p.sum()
    rows, cols = [], []
    for u in range(n_users):
        picks = rng.choice(n_items, size=per_user, replace=False, p=p)
        rows += [u] * per_user
        cols += picks.tolist()
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items))


def test_selection_beats_popularity_on_planted_data_and_refits_on_all() -> None:
    x, _, _ = planted(n_users=80, per_user=10)
    val = random_split(x, test_fraction=0.25, seed=7)
    cands = [Candidate("ease", {"lambda_": 10.0}), Candidate("als", {"factors": 8})]
    sel = select_model(x, val, candidates=cands, budget_seconds=60)
    assert sel.name in {"ease", "als", "blend"}
    assert sel.validation["ndcg"] > sel.popularity["ndcg"]
    assert [t.model for t in sel.trials[:3]] == ["popularity", "ease", "als"]
    assert any(t.model == "blend" for t in sel.trials)
    # refitted on all interactions: it now knows the held-out items and excludes them
    items, _ = sel.model.recommend(x, 5, user_indices=np.arange(x.shape[0]))
    held_out = val.test.tocoo()
    recs = {(u, i) for u in range(x.shape[0]) for i in items[u]}
    assert not recs & set(zip(held_out.row.tolist(), held_out.col.tolist(), strict=True))


def test_a_model_worse_than_popularity_is_rejected_with_the_reason() -> None:
    x = zipf_baskets()
    val = random_split(x, test_fraction=0.34, seed=1)
    weak = [Candidate("bpr", {"factors": 4, "iterations": 1, "learning_rate": 1e-4})]
    with pytest.raises(ModelRejected, match="worse than popularity"):
        select_model(x, val, candidates=weak, blend=False)
    fallback = select_model(x, val, candidates=weak, blend=False, fallback_to_popularity=True)
    assert fallback.name == "popularity"


def test_nan_parameters_are_rejected() -> None:
    x, _, _ = planted()
    model = create_model("als", factors=4, iterations=2).fit(x)
    ok = {"ndcg": 0.5}
    check_publishable(model, ok, {"ndcg": 0.1}, "ndcg")  # finite and better: accepted
    model.item_factors[0, 0] = np.nan  # type: ignore[attr-defined]
    with pytest.raises(ModelRejected, match="NaN or inf"):
        check_publishable(model, ok, {"ndcg": 0.1}, "ndcg")


def test_a_failing_candidate_is_skipped_not_fatal() -> None:
    x, _, _ = planted(n_users=80, per_user=10)
    val = random_split(x, test_fraction=0.25, seed=7)
    cands = [Candidate("item_knn", {"similarity": "bogus"}), Candidate("ease", {"lambda_": 10.0})]
    sel = select_model(x, val, candidates=cands, blend=False)
    assert sel.name == "ease"
    assert sel.trials[1].skipped.startswith("failed: InvalidInput: item_knn: unknown similarity")
