"""Attribute features: one-hot categories, list elements, numeric bands, JSON round trip."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from recsys.features import FeatureEncoder, aligned_features


def items() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": ["a", "b", "c", "d"],
            "category": pd.Categorical(["shoes", "shoes", "books", "toys"]),
            "tags": ["sport;outdoor", "sport", "", "kids;outdoor"],
            "price": [10.0, 20.0, 30.0, 40.0],
            "title": ["t1", "t2", "t3", "t4"],
        }
    )


def test_tokens_bands_and_unknown_values() -> None:
    enc = FeatureEncoder("item_id", n_bands=2, max_levels=3).fit(items())
    assert "title" not in enc.kinds  # 4 distinct titles > max_levels: free text is skipped
    vocab = set(enc.vocabulary)
    assert {"category=shoes", "tags=sport", "tags=outdoor", "price=band0", "price=band1"} <= vocab
    m = enc.transform(items()).toarray()
    row_a = {t for t, j in enc.vocabulary.items() if m[0, j]}
    assert row_a == {"category=shoes", "tags=sport", "tags=outdoor", "price=band0"}
    assert {t for t, j in enc.vocabulary.items() if m[3, j]} >= {"price=band1", "tags=kids"}
    new = pd.DataFrame({"item_id": ["z"], "category": ["garden"], "price": [35.0]})
    row = enc.transform(new).toarray()[0]
    assert {t for t, j in enc.vocabulary.items() if row[j]} == {"price=band1"}


def test_json_round_trip_and_alignment() -> None:
    enc = FeatureEncoder("item_id").fit(items())
    again = FeatureEncoder.from_json(enc.to_json())
    np.testing.assert_array_equal(
        again.transform(items()).toarray(), enc.transform(items()).toarray()
    )
    m = aligned_features(enc, items(), np.array(["c", "missing", "a"])).toarray()
    full = enc.transform(items()).toarray()
    np.testing.assert_array_equal(m[0], full[2])
    assert m[1].sum() == 0
    np.testing.assert_array_equal(m[2], full[0])
    with pytest.raises(InvalidInput, match="id column"):
        FeatureEncoder("sku").fit(items())
