"""`top_k_rows` for blocks of customers: the same answer as sorting each row whole."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.serving import _by_argpartition, top_k, top_k_rows


def reference(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row sorted whole, best first, equal scores by lower index; NaN counted as the
    best (as `np.partition` does) but never returned, the row padded instead; an entry not
    finite is returned as index -1 with its score."""
    n, m = scores.shape
    idx = np.full((n, k), -1, np.int64)
    val = np.full((n, k), -np.inf, np.float32)
    for r in range(n):
        row = scores[r]
        nan = int(np.isnan(row).sum())
        order = np.lexsort((np.arange(m), -np.nan_to_num(row, nan=np.inf)))[nan:k]
        idx[r, : len(order)] = np.where(np.isfinite(row[order]), order, -1)
        val[r, : len(order)] = row[order]
    return idx, val


def blocks(rng: np.random.Generator, n: int, m: int) -> dict[str, np.ndarray]:
    distinct = rng.permutation(n * m).reshape(n, m).astype(np.float32) / (n * m) - 0.3
    tied = rng.integers(0, 12, (n, m)).astype(np.float32)  # many equal scores
    excluded = distinct.copy()
    excluded[rng.random((n, m)) < 0.4] = -np.inf
    excluded[:3, 5:] = -np.inf  # fewer than k left
    mixed = np.vstack([distinct] * 5)  # at least five rows
    mixed[1] = 0.5  # a row of equal scores (a customer with nothing to go on)
    mixed[2, ::7] = np.nan
    mixed[3, 4] = np.nan
    mixed[4, : m // 2] = np.inf
    return {"distinct": distinct, "tied": tied, "excluded": excluded, "mixed": mixed}


@pytest.mark.parametrize(("n", "m"), [(1, 40), (70, 40), (300, 3000), (5, 3000)])
@pytest.mark.parametrize("k", [1, 3, 10, 50, 100])
def test_every_row_as_if_sorted_whole(n: int, m: int, k: int) -> None:
    rng = np.random.default_rng(n * 7 + m + k)
    for name, scores in blocks(rng, n, m).items():
        idx, val = top_k_rows(scores, k)
        want_idx, want_val = reference(scores, min(k, m))
        pad = k - min(k, m)
        np.testing.assert_array_equal(idx[:, : min(k, m)], want_idx, err_msg=name)
        np.testing.assert_array_equal(val[:, : min(k, m)], want_val, err_msg=name)
        assert (idx[:, k - pad :] == -1).all()
        # a row's answer does not depend on the rows ranked with it
        for r in (0, n // 2, n - 1):
            alone = top_k_rows(scores[r : r + 1], k)
            np.testing.assert_array_equal(alone[0][0], idx[r], err_msg=name)


def test_distinct_scores_rank_as_argpartition_did() -> None:
    rng = np.random.default_rng(5)
    scores = rng.permutation(400 * 5000).reshape(400, 5000).astype(np.float32)
    scores[rng.random(scores.shape) < 0.2] = -np.inf
    for k in (10, 100):
        old_idx, old_val = _by_argpartition(scores, k)
        old_idx[~np.isfinite(old_val)] = -1
        idx, val = top_k_rows(scores, k)
        np.testing.assert_array_equal(idx, old_idx)
        np.testing.assert_array_equal(val, old_val)


def test_the_request_path_keeps_one_row_on_argpartition() -> None:
    factors = np.eye(4, dtype=np.float32)
    idx, scores = top_k(np.array([0.1, 0.4, 0.2, 0.3]), factors, 3, exclude_indices=[1])
    assert idx.tolist() == [3, 2, 0] and scores.tolist() == pytest.approx([0.3, 0.2, 0.1])
    with pytest.raises(ValueError, match="k must be positive"):
        top_k_rows(factors, 0)
