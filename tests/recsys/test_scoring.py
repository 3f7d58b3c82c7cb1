"""The served path for many customers, and the request-time helpers (fold-in checked
against implicit)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from implicit.cpu.als import AlternatingLeastSquares

from recsys.business_rules import Rules
from recsys.models import create_model
from recsys.served import Storefront, published, published_block, serve
from recsys.serving import fold_in, top_k
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


def _front(n_items: int, in_stock: list[int] | None = None) -> Storefront:
    """Every item a product; popularity ranks item 0 first; `in_stock`: the only ones."""
    items = [
        {"item_id": f"i{i}", "kind": "product", "in_stock": in_stock is None or i in in_stock}
        for i in range(n_items)
    ]
    popular = (np.arange(n_items, dtype=np.uint32), np.arange(n_items, 0, -1, dtype=np.float32))
    return Storefront(items, {"global": popular}, Rules())


def test_the_served_path_covers_known_unknown_and_cold_customers() -> None:
    x, _, ig = planted()
    model = create_model("ease", lambda_=10.0).fit(x)
    new_history = sp.csr_matrix(([1.0, 1.0], ([1, 1], [25, 26])), shape=(3, x.shape[1]))
    history = sp.vstack([x[[0]], new_history[1:]]).tocsr()
    users = np.array([0, -1, -1])  # known, unknown with clicks, unknown with nothing
    had = sp.csr_matrix(([1.0], ([0], [x[0].indices[0]])), shape=(3, x.shape[1]))
    front = _front(x.shape[1])
    idx, scores = published(model, history, published_block(had, front.rules, front.items),
                            user_indices=users)  # fmt: skip
    idx[2] = -1  # nothing to go on: nothing published (the cold start)
    items, _ = serve(front, (idx, scores), had, 5)
    assert x[0].indices[0] not in items[0]
    assert (ig[items[1]] == 1).mean() >= 0.8  # folded in from two group-1 clicks
    assert items[2].tolist() == [0, 1, 2, 3, 4]  # cold start: the popularity order
    front = _front(x.shape[1])
    front.rules = Rules(exclude_consumed=False)
    again, _ = serve(front, published(model, history, None, user_indices=users), had, 5)
    assert (again >= 0).all()


def test_eligibility_and_fallbacks_never_leave_a_list_empty() -> None:
    x, _, _ = planted()
    model = create_model("ease", lambda_=10.0).fit(x)
    front = _front(x.shape[1], in_stock=[0, 1, 2, 21, 22])
    recs = published(model, x[:6], None, user_indices=np.arange(6))
    items, _ = serve(front, recs, sp.csr_matrix((6, x.shape[1])), 4)
    assert set(items.ravel().tolist()) <= {0, 1, 2, 21, 22}
    assert (items >= 0).all()
