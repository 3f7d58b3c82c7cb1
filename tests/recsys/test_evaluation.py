"""Metrics against hand-computed cases, and the splits' no-leakage guarantees."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.evaluation import coverage, evaluate, intra_list_diversity, novelty, ranking_metrics
from recsys.models import create_model
from recsys.split import random_split, temporal_split
from tests.recsys.factories import make_events, planted


def rel(rows: list[list[int]], n_items: int = 10) -> sp.csr_matrix:
    r = [i for i, row in enumerate(rows) for _ in row]
    c = [j for row in rows for j in row]
    return sp.csr_matrix((np.ones(len(c)), (r, c)), shape=(len(rows), n_items))


def test_ranking_metrics_match_hand_computation() -> None:
    # user 0: relevant {1, 5, 7}; list [1, 2, 5] -> hits at ranks 1 and 3
    # user 1: relevant {9}; list [3, 4, 0] -> no hit
    # user 2: no relevant items -> ignored
    recommended = np.array([[1, 2, 5], [3, 4, 0], [1, 2, 3]])
    m = ranking_metrics(recommended, rel([[1, 5, 7], [9], []]), k=3)
    dcg0 = 1 + 1 / math.log2(4)
    idcg0 = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert m["ndcg"] == pytest.approx((dcg0 / idcg0 + 0) / 2)
    assert m["recall"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["precision"] == pytest.approx((2 / 3 + 0) / 2)
    assert m["map"] == pytest.approx(((1 / 1 + 2 / 3) / 3 + 0) / 2)
    assert m["hit_rate"] == pytest.approx(0.5)


def test_ndcg_ideal_uses_min_of_relevant_and_k() -> None:
    # one relevant item ranked 2nd out of k=2: dcg = 1/log2(3), idcg = 1
    m = ranking_metrics(np.array([[0, 4]]), rel([[4]]), k=2)
    assert m["ndcg"] == pytest.approx(1 / math.log2(3))
    # padding (-1) is never a hit
    assert ranking_metrics(np.array([[-1, -1]]), rel([[4]]), k=2)["hit_rate"] == 0.0


def test_coverage_novelty_diversity_by_hand() -> None:
    rec = np.array([[0, 1], [0, 2]])
    assert coverage(rec, 4) == pytest.approx(3 / 4)
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 0, 1, 0], [1, 0, 0, 0]]))
    # p(0)=1 -> 0 bits; p(1)=p(2)=1/4 -> 2 bits; mean over 4 slots = (0+2+0+2)/4
    assert novelty(rec, train) == pytest.approx(1.0)
    cats = np.array(["a", "a", "b", "b"])
    assert intra_list_diversity(rec, item_categories=cats) == pytest.approx(0.5)
    vecs = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    assert intra_list_diversity(rec, item_vectors=vecs) == pytest.approx(0.5)


def test_random_split_holds_out_a_quarter_per_user_without_overlap() -> None:
    x, _, _ = planted(per_user=8)
    s = random_split(x, test_fraction=0.25, seed=42)
    assert (np.diff(s.test.indptr) == 2).all()
    assert s.train.multiply(s.test).nnz == 0
    assert (s.train + s.test).nnz == x.nnz
    again = random_split(x, test_fraction=0.25, seed=42)
    assert (again.test != s.test).nnz == 0
    with pytest.raises(InvalidInput, match="test_fraction"):
        random_split(x, test_fraction=1.5)


def test_temporal_split_has_no_future_in_training() -> None:
    ev = make_events(
        [
            ("a", "x", "purchase", "2024-01-01"),
            ("a", "y", "purchase", "2024-01-02"),
            ("b", "x", "purchase", "2024-01-03"),
            ("a", "z", "purchase", "2024-02-01"),  # test period
            ("a", "x", "purchase", "2024-02-02"),  # already in a's history: not a test target
            ("c", "x", "purchase", "2024-02-03"),  # customer unknown at training time
        ]
    )
    train, test = temporal_split(ev, test_fraction=0.5, item_ids=["x", "y", "z"])
    assert sorted(train.customers.to_array().tolist()) == ["a", "b"]
    a = train.customers.index(["a"])[0]
    assert train.matrix[a, train.items.index(["z"])[0]] == 0
    assert test.nnz == 1
    assert test[a, train.items.index(["z"])[0]] == 1


def test_evaluate_prefers_a_real_model_to_popularity_on_planted_data() -> None:
    x, _, _ = planted(n_users=80, per_user=10)
    s = random_split(x, test_fraction=0.3, seed=1)
    ease = evaluate(create_model("ease", lambda_=10.0).fit(s.train), s, k=5)
    pop = evaluate(create_model("popularity").fit(s.train), s, k=5)
    assert ease["ndcg"] > pop["ndcg"]
    assert 0 < ease["coverage"] <= 1
    assert ease["users"] == 80
