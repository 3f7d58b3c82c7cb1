"""Interaction matrix builder and id map."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.errors import InvalidInput
from recsys.errors import UnknownIdError
from recsys.matrix import IdMap, WeightConfig, build_interactions
from tests.recsys.factories import make_events


def test_id_map_round_trips_and_names_unknown_ids() -> None:
    m = IdMap(["a", "b", "c"], kind="item")
    assert m.index(["c", "a"]).tolist() == [2, 0]
    assert m.ids([1]).tolist() == ["b"]
    assert m.lookup(["zz", "b"]).tolist() == [-1, 1]
    with pytest.raises(UnknownIdError, match=r"unknown item id.*'zz'"):
        m.index(["a", "zz"])
    assert IdMap.from_array(m.to_array(), kind="item") == m
    with pytest.raises(InvalidInput, match="duplicate"):
        IdMap(["a", "a"])


def test_event_types_are_ordered_and_dismiss_excluded() -> None:
    ev = make_events(
        [
            ("u", "view", "view"),
            ("u", "click", "click"),
            ("u", "cart", "add_to_cart"),
            ("u", "buy", "purchase"),
            ("u", "nope", "dismiss"),
        ]
    )
    inter = build_interactions(ev, config=WeightConfig(confidence="linear"))
    row = inter.matrix.toarray()[0]
    w = {i: row[inter.items.index([i])[0]] for i in ["view", "click", "cart", "buy", "nope"]}
    assert 0 < w["view"] < w["click"] < w["cart"] < w["buy"]
    assert w["nope"] == 0
    assert inter.matrix.dtype == np.float32


def test_negative_dismiss_cancels_a_view_and_ratings_count_by_value() -> None:
    ev = make_events(
        [
            ("u", "a", "view", "2024-01-01", 0.0),
            ("u", "a", "dismiss", "2024-01-01", 0.0),
            ("u", "r5", "rate", "2024-01-01", 5.0),
            ("u", "r2", "rate", "2024-01-01", 2.0),
        ]
    )
    cfg = WeightConfig(dismiss_weight=-1.0, confidence="linear")
    dense = build_interactions(ev, config=cfg).matrix.toarray()[0]
    assert dense.tolist() == [0.0, 5.0, 2.0]


def test_half_life_halves_weight_of_old_events() -> None:
    ev = make_events(
        [("u", "old", "purchase", "2024-01-01"), ("u", "new", "purchase", "2024-01-11")]
    )
    cfg = WeightConfig(half_life_days=10.0, confidence="linear")
    inter = build_interactions(ev, config=cfg)
    old, new = inter.matrix.toarray()[0][inter.items.index(["old", "new"])]
    assert new == pytest.approx(8.0)
    assert old == pytest.approx(4.0)


def test_log1p_confidence_and_repeated_events_sum() -> None:
    ev = make_events([("u", "a", "purchase"), ("u", "a", "purchase")])
    inter = build_interactions(ev, config=WeightConfig(alpha=2.0))
    assert inter.matrix[0, 0] == pytest.approx(2.0 * np.log1p(16.0))


def test_events_outside_given_catalogue_raise_or_drop() -> None:
    ev = make_events([("u", "a", "view"), ("u", "ghost", "view")])
    with pytest.raises(UnknownIdError, match="ghost"):
        build_interactions(ev, item_ids=["a", "b"])
    inter = build_interactions(ev, item_ids=["a", "b"], drop_unknown=True)
    assert inter.matrix.shape == (1, 2)
    assert inter.matrix.nnz == 1


def test_missing_columns_are_a_clear_error() -> None:
    ev = make_events([("u", "a", "view")]).drop(columns=["type"])
    with pytest.raises(InvalidInput, match="type"):
        build_interactions(ev)


def test_event_weights_agree_for_categorical_and_plain_string_types() -> None:
    from recsys.matrix import WeightConfig, event_weights
    from tests.recsys.factories import make_events

    events = make_events(
        [
            ("c1", "i1", "view", "2024-01-01", 0.0),
            ("c1", "i2", "purchase", "2024-01-01", 0.0),
            ("c2", "i1", "rate", "2024-01-02", 4.0),
            ("c2", "i3", "dismiss", "2024-01-02", 0.0),
            ("c3", "i3", "impression", "2024-01-03", 0.0),
        ]
    )
    config = WeightConfig(dismiss_weight=-2.0)
    categorical = event_weights(events, config)
    plain = event_weights(events.assign(type=events["type"].astype(str)), config)
    assert categorical.tolist() == plain.tolist() == [1.0, 8.0, 4.0, -2.0, 0.0]
