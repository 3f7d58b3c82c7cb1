"""One contract suite run against every recommender, on planted two-group data."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
import scipy.sparse as sp

from contracts.errors import InvalidInput
from recsys.errors import (
    ModelFileError,
    ModelTooLargeError,
    NotFittedError,
    UnknownModelError,
)
from recsys.features import FeatureEncoder
from recsys.models import Recommender, create_model
from tests.recsys.factories import planted, planted_features

K = 5


def in_group_share(items: np.ndarray, users: np.ndarray, ug: np.ndarray, ig: np.ndarray) -> float:
    valid = items >= 0
    return float((ig[items[valid]] == np.repeat(ug[users], items.shape[1])[valid.ravel()]).mean())


class RecommenderContract:
    """Every model must pass these; subclasses set `model_name` and small `params`."""

    model_name: ClassVar[str]
    params: ClassVar[dict[str, Any]] = {}
    uses_groups: ClassVar[bool] = False
    uses_features: ClassVar[bool] = False

    @pytest.fixture(scope="class")
    @classmethod
    def data(cls) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
        return planted()

    @pytest.fixture(scope="class")
    @classmethod
    def fit_kwargs(cls, data: tuple) -> dict[str, Any]:
        _, ug, ig = data
        kwargs: dict[str, Any] = {}
        if cls.uses_groups:
            kwargs["user_groups"] = ug
        if cls.uses_features:
            customers, items = planted_features(ug, ig)
            kwargs["user_features"] = (
                FeatureEncoder("customer_id").fit(customers).transform(customers)
            )
            kwargs["item_features"] = FeatureEncoder("item_id").fit(items).transform(items)
        return kwargs

    @pytest.fixture(scope="class")
    @classmethod
    def model(cls, data: tuple, fit_kwargs: dict[str, Any]) -> Recommender:
        return create_model(cls.model_name, **cls.params).fit(data[0], **fit_kwargs)

    def test_recommends_in_group_items_far_above_chance(
        self, model: Recommender, data: tuple
    ) -> None:
        x, ug, ig = data
        users = np.arange(x.shape[0])
        items, _ = model.recommend(x, K, user_indices=users)
        # chance: 12 unseen in-group items among 32 unseen -> 0.375
        assert in_group_share(items, users, ug, ig) >= 0.8

    def test_training_items_are_excluded_and_scores_sorted(
        self, model: Recommender, data: tuple
    ) -> None:
        x, _, _ = data
        items, scores = model.recommend(x, K, user_indices=np.arange(x.shape[0]))
        assert items.shape == (x.shape[0], K)
        assert (items >= 0).all()
        for u in range(x.shape[0]):
            assert not set(items[u]) & set(x[u].indices)
            assert len(set(items[u])) == K
        assert (np.diff(scores, axis=1) <= 1e-6).all()

    def test_include_seen_and_extra_exclusions(self, model: Recommender, data: tuple) -> None:
        x, _, _ = data
        users = np.arange(4)
        banned = np.zeros(x.shape[1], bool)
        banned[:30] = True
        items, _ = model.recommend(
            x[users], 50, user_indices=users, exclude_seen=False, exclude=banned
        )
        valid = items[items >= 0]
        assert set(valid.tolist()) <= set(range(30, 40))
        assert (items[:, 10:] == -1).all()  # only 10 candidates left: padded, not filled

    def test_save_load_round_trip_gives_identical_output(
        self, model: Recommender, data: tuple, tmp_path: Path
    ) -> None:
        x, _, _ = data
        users = np.arange(x.shape[0])
        model.save(tmp_path / "m")
        loaded = Recommender.load(tmp_path / "m")
        assert type(loaded) is type(model)
        np.testing.assert_array_equal(
            loaded.score(x, user_indices=users), model.score(x, user_indices=users)
        )
        a = model.similar_items(np.arange(3), 4)
        b = loaded.similar_items(np.arange(3), 4)
        np.testing.assert_array_equal(a[0], b[0])

    def test_similar_items_never_returns_the_item_itself(self, model: Recommender) -> None:
        items, _ = model.similar_items(np.arange(model.n_items), 3)
        assert not (items == np.arange(model.n_items)[:, None]).any()

    def test_unseen_customer_is_scored_from_history(self, model: Recommender, data: tuple) -> None:
        x, _, ig = data
        # a brand-new customer who touched four group-1 items
        history = sp.csr_matrix((np.ones(4), ([0] * 4, [20, 21, 22, 23])), shape=(1, x.shape[1]))
        items, _ = model.recommend(history, K)
        assert (items >= 0).all()
        if self.model_name != "popularity":
            assert (ig[items[0]] == 1).mean() >= 0.8


class TestALS(RecommenderContract):
    model_name = "als"
    params: ClassVar[dict[str, Any]] = {"factors": 8, "iterations": 10, "regularization": 0.1}


class TestBPR(RecommenderContract):
    model_name = "bpr"
    params: ClassVar[dict[str, Any]] = {"factors": 8, "iterations": 200, "learning_rate": 0.05}


class TestItemKNNBM25(RecommenderContract):
    model_name = "item_knn"
    params: ClassVar[dict[str, Any]] = {"similarity": "bm25", "K": 20}


class TestItemKNNCosine(RecommenderContract):
    model_name = "item_knn"
    params: ClassVar[dict[str, Any]] = {"similarity": "cosine", "K": 20}


class TestEASE(RecommenderContract):
    model_name = "ease"
    params: ClassVar[dict[str, Any]] = {"lambda_": 10.0}


class TestLightFMHybrid(RecommenderContract):
    model_name = "lightfm"
    params: ClassVar[dict[str, Any]] = {"no_components": 8, "epochs": 30, "num_threads": 1}
    uses_features = True


class TestBlend(RecommenderContract):
    model_name = "blend"
    params: ClassVar[dict[str, Any]] = {
        "members": [
            {"model": "ease", "params": {"lambda_": 10.0}, "weight": 1.0},
            {"model": "als", "params": {"factors": 8, "iterations": 10}, "weight": 0.5},
        ]
    }


class TestSegmentPopularity(RecommenderContract):
    model_name = "popularity"
    uses_groups = True


def test_hybrid_scores_cold_customers_and_new_items_from_features() -> None:
    x, ug, ig = planted()
    x = x.tolil()
    x[:, 0] = 0  # item 0 (group 0) is brand new: nobody has touched it
    x = sp.csr_matrix(x)
    x.eliminate_zeros()
    customers, items = planted_features(ug, ig)
    cenc = FeatureEncoder("customer_id").fit(customers)
    ienc = FeatureEncoder("item_id").fit(items)
    model = create_model("lightfm", no_components=8, epochs=30, num_threads=1).fit(
        x, user_features=cenc.transform(customers), item_features=ienc.transform(items)
    )
    scores = model.score(x, user_indices=np.arange(x.shape[0]))
    assert scores[ug == 0, 0].mean() > scores[ug == 1, 0].mean()
    # two customers with no history at all, only attributes (gold -> group 0, bronze -> 1)
    empty = sp.csr_matrix((2, x.shape[1]), dtype=np.float32)
    feats = cenc.transform(customers.iloc[[0, 1]])
    top, _ = model.recommend(empty, K, user_features=feats)
    assert (ig[top[0]] == 0).mean() >= 0.8
    assert (ig[top[1]] == 1).mean() >= 0.8


def test_fold_in_params_only_where_serving_can_fold_in() -> None:
    x, _, _ = planted()
    als = create_model("als", factors=4, iterations=2, alpha=3.0, regularization=0.2).fit(x)
    assert als.fold_in_params() == {"regularization": 0.2, "alpha": 3.0}
    assert create_model("ease", lambda_=10.0).fit(x).fold_in_params() is None
    members = [
        {"model": "ease", "params": {"lambda_": 10.0}, "weight": 1.0},
        {"model": "als", "params": {"factors": 4, "iterations": 2}, "weight": 1.0},
    ]
    blend = create_model("blend", members=members).fit(x)
    assert blend.fold_in_params() == {"regularization": 0.05, "alpha": 1.0}
    np.testing.assert_array_equal(blend.item_vectors(), blend.models[1].item_vectors())  # type: ignore[attr-defined]


def test_ease_refuses_catalogues_above_its_limit() -> None:
    x, _, _ = planted()
    with pytest.raises(ModelTooLargeError, match="max_items=10"):
        create_model("ease", max_items=10).fit(x)


def test_factory_and_usage_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(UnknownModelError, match="unknown model 'nope'"):
        create_model("nope")
    with pytest.raises(InvalidInput, match="unknown parameter"):
        create_model("als", factorz=3)
    with pytest.raises(NotFittedError):
        create_model("ease").score(sp.csr_matrix((1, 3)))
    with pytest.raises(InvalidInput, match="no interactions"):
        create_model("ease").fit(sp.csr_matrix((3, 3)))
    with pytest.raises(ModelFileError):
        Recommender.load(tmp_path / "missing")


def test_standardise_gives_zero_mean_unit_std_rows() -> None:
    from recsys.models.blend import standardise

    raw = np.array([[1.0, 2.0, 3.0, 6.0], [5.0, 5.0, 5.0, 5.0]], dtype=np.float32)
    z = standardise(raw)
    np.testing.assert_allclose(z[0], (raw[0] - 3.0) / np.sqrt(3.5), rtol=1e-6)
    assert (z[1] == 0).all()
    assert raw[0, 0] == 1.0  # not modified unless inplace
