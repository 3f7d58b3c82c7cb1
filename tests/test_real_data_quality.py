"""Served quality on real data: MovieLens-100K through the product's own commands.

The ratings (from the `recbole==1.2.1` wheel cached by `make data`; the test fails, never
skips, when the cache is absent) are split per user 75/25 at random (seed 42). The 75% is
written as contract files; `touchpoint train` and `touchpoint recommend` run as
subprocesses exactly as a user would run them (embedded Redis in the data directory), and
their output CSV is scored against the held-out quarter by the benchmark's own metric
code, not the product's. Popularity fitted on the same training events is the bar.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest

from bench import quality
from bench._data import MissingDataError, write_movielens_100k
from bench.baselines import popularity_lists
from bench.scoring import read_pairs, read_recommendations, read_training_events, score_lists

K = 10
BUDGET_SECONDS = 45
MARGIN = 1.3  # the product's NDCG@10 must be at least this many times popularity's


def _touchpoint(*args: str, env: dict[str, str], cwd: Path) -> str:
    cmd = [str(Path(sys.executable).parent / "touchpoint"), *args]
    done = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, (
        f"`touchpoint {' '.join(args)}` exited {done.returncode}:\n"
        f"{(done.stderr.strip() or done.stdout.strip())[-2000:]}"
    )
    return done.stdout


@pytest.mark.slow
def test_movielens_served_lists_beat_popularity_and_repeat_no_training_item(
    tmp_path: Path,
) -> None:
    try:
        files = write_movielens_100k(tmp_path, seed=42, download=False)
    except MissingDataError as exc:
        pytest.fail(str(exc))
    env = quality.product_env(files.data_dir)
    assert "TOUCHPOINT_REDIS_URL" not in env and env["OPENBLAS_NUM_THREADS"] == "1"
    data = str(files.data_dir)

    _touchpoint("train", "--data", data, "--no-publish", "--budget-seconds",
                str(BUDGET_SECONDS), env=env, cwd=tmp_path)  # fmt: skip
    recs_file = tmp_path / "recs.csv"
    _touchpoint("recommend", "--data", data, "--customers", str(files.customers),
                "--k", str(K), "--output", str(recs_file), env=env, cwd=tmp_path)  # fmt: skip

    relevant = read_pairs(files.heldout)
    customers = sorted(relevant)
    assert len(customers) == 943
    events = read_training_events(files.data_dir)
    trained: dict[str, set[str]] = {}
    for c, i in zip(events["customer_id"], events["item_id"], strict=True):
        trained.setdefault(c, set()).add(i)

    recs = read_recommendations(recs_file)
    product = score_lists(recs, relevant, K)
    popularity = score_lists(popularity_lists(events, customers, K), relevant, K)
    served = [(c, i) for c in customers for i in recs.get(c, [])[:K]]
    repeated = [(c, i) for c, i in served if i in trained.get(c, ())]

    figures = (
        f"product NDCG@{K} {product['ndcg']:.4f} (recall {product['recall']:.4f}, precision "
        f"{product['precision']:.4f}); popularity NDCG@{K} {popularity['ndcg']:.4f}; "
        f"{len(repeated)} of {len(served)} recommendations "
        f"({100 * len(repeated) / max(len(served), 1):.1f}%) already in the customer's "
        f"training events; {len(recs)} of {len(customers)} customers got a list"
    )
    failures = []
    if not product["ndcg"] >= MARGIN * popularity["ndcg"]:
        failures.append(f"NDCG@{K} below {MARGIN} x popularity's")
    if repeated:
        failures.append(f"recommended items the customer already had, e.g. {repeated[:3]}")
    assert not failures, "; ".join(failures) + "\n" + figures


def test_missing_movielens_cache_fails_naming_make_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bench._data as data

    monkeypatch.setattr(data, "CACHE", tmp_path / "empty-cache")
    with pytest.raises(MissingDataError, match="make data"):
        data.write_movielens_100k(tmp_path / "out", download=False)
    assert not (tmp_path / "empty-cache").exists()  # nothing fetched from the registry


def test_split_is_per_user_and_keeps_tiny_histories_in_training() -> None:
    import numpy as np

    from bench._data import per_user_split

    users = np.array([1] * 8 + [2] * 1 + [3] * 4 + [4] * 2)
    held = per_user_split(users, seed=42)
    assert held[users == 1].sum() == 2 and held[users == 3].sum() == 1
    assert held[users == 2].sum() == 0  # fewer than 2 ratings: all in training
    assert held[users == 4].sum() == 0  # round(0.5) is 0
    assert np.array_equal(held, per_user_split(users, seed=42))


def test_scorer_on_a_hand_worked_example() -> None:
    relevant = {"a": {"x", "y"}, "b": {"z"}, "c": {"q"}}  # c is absent from the output
    recs = {"a": ["y", "n", "x"], "b": ["n", "n2", "n3"]}
    got = score_lists(recs, relevant, 3)
    ideal_a = 1 + 1 / math.log2(3)
    ndcg_a = (1 + 1 / math.log2(4)) / ideal_a
    assert got["ndcg"] == pytest.approx(ndcg_a / 3)
    assert got["recall"] == pytest.approx(1 / 3)
    assert got["precision"] == pytest.approx((2 / 3) / 3)
