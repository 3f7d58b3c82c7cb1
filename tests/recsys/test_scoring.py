"""Batch scoring and the request-time helpers (fold-in checked against implicit)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys.errors import InvalidInputError
from recsys.models import create_model
from recsys.scoring import fold_in, recommend_batch, to_frame, top_k
from tests.recsys.factories import planted


@pytest.mark.parametrize("alpha", [1.0, 4.0])
def test_fold_in_equals_implicit_recalculate_user(alpha: float) -> None:
    x, _, _ = planted()
    als = AlternatingLeastSquares(factors=6, regularization=0.3, alpha=alpha, random_state=0)
    als.fit(x, show_progress=False)
    row = sp.csr_matrix(([1.0, 3.0, 0.5], ([0, 0, 0], [2, 7, 30])), shape=(1, x.shape[1]))
    expected = als.recalculate_user(0, row)
    got = fold_in(als.item_factors, 0.3, [2, 7, 30], [1.0, 3.0, 0.5], alpha=alpha)
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4)


def test_top_k_excludes_and_orders() -> None:
    factors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.5, 0.5]])
    idx, scores = top_k(np.array([1.0, 0.0]), factors, 2, exclude_indices=[0])
    assert idx.tolist() == [1, 3]
    assert scores.tolist() == pytest.approx([0.9, 0.5])
    idx, _ = top_k(np.array([1.0, 0.0]), factors, 10, exclude_indices=[0, 1])
    assert idx.tolist() == [3, 2]  # fewer than k left: no excluded item sneaks back in


def test_batch_scoring_covers_known_unknown_and_cold_customers() -> None:
    x, _, ig = planted()
    model = create_model("ease", lambda_=10.0).fit(x)
    fallback = np.arange(x.shape[1], 0, -1).astype(np.float32)  # item 0 most popular
    new_history = sp.csr_matrix(([1.0, 1.0], ([1, 1], [25, 26])), shape=(3, x.shape[1]))
    history = sp.vstack([x[[0]], new_history[1:]]).tocsr()
    users = np.array([0, -1, -1])  # known, unknown with clicks, unknown with nothing
    purchased = sp.csr_matrix(([1.0], ([0], [x[0].indices[0]])), shape=(3, x.shape[1]))
    items, _, cold = recommend_batch(
        model,
        k=5,
        user_indices=users,
        history=history,
        fallback_scores=fallback,
        purchased=purchased,
    )
    assert cold.tolist() == [False, False, True]
    assert x[0].indices[0] not in items[0]
    assert (ig[items[1]] == 1).mean() >= 0.8  # folded in from two group-1 clicks
    assert items[2].tolist() == [0, 1, 2, 3, 4]  # cold start: the popularity order
    again, _, _ = recommend_batch(
        model,
        k=5,
        user_indices=users,
        history=history,
        fallback_scores=fallback,
        purchased=purchased,
        include_purchased=True,
    )
    assert (again >= 0).all()


def test_filters_and_top_up_never_leave_a_list_empty() -> None:
    x, _, _ = planted()
    model = create_model("ease", lambda_=10.0).fit(x)
    allowed = np.zeros(x.shape[1], bool)
    allowed[[0, 1, 2, 21, 22]] = True
    fallback = np.ones(x.shape[1], np.float32)
    items, _, _ = recommend_batch(
        model,
        k=4,
        user_indices=np.arange(6),
        history=x[:6],
        fallback_scores=fallback,
        allowed_items=allowed,
    )
    assert set(items[items >= 0].tolist()) <= {0, 1, 2, 21, 22}
    assert (items >= 0).all()
    with pytest.raises(InvalidInputError, match="no item is allowed"):
        recommend_batch(
            model,
            k=4,
            user_indices=np.arange(2),
            history=x[:2],
            fallback_scores=fallback,
            allowed_items=np.zeros(x.shape[1], bool),
        )


def test_to_frame_writes_one_row_per_rank() -> None:
    df = to_frame(
        ["a", "b"], np.array(["i0", "i1", "i2"]), np.array([[2, 0], [1, -1]]), np.ones((2, 2))
    )
    assert df.to_dict("list") == {
        "customer_id": ["a", "a", "b"],
        "rank": [1, 2, 1],
        "item_id": ["i2", "i0", "i1"],
        "score": [1.0, 1.0, 1.0],
    }
