"""Popularity rankings: global, per channel, per segment, trending."""

from __future__ import annotations

import pandas as pd
import pytest

from recsys.errors import InvalidInputError
from recsys.matrix import IdMap
from recsys.popularity import popularity_scores
from tests.recsys.factories import make_events


def events() -> pd.DataFrame:
    return make_events(
        [
            # "old" was a hit a year ago (3 buyers), "new" is rising now (2 buyers)
            ("a", "old", "purchase", "2023-01-01", 0.0, "web"),
            ("b", "old", "purchase", "2023-01-02", 0.0, "web"),
            ("c", "old", "purchase", "2023-01-03", 0.0, "web"),
            ("a", "new", "purchase", "2024-01-01", 0.0, "email"),
            ("d", "new", "purchase", "2024-01-02", 0.0, "email"),
            ("d", "meh", "rate", "2024-01-02", 1.0, "app"),  # a bad rating is not a vote
            ("d", "meh", "dismiss", "2024-01-02", 0.0, "app"),
        ]
    )


def test_global_and_trending_rankings_disagree_as_they_should() -> None:
    items = IdMap(["old", "new", "meh"], kind="item")
    flat = popularity_scores(events(), items)["*"]
    assert flat.tolist() == [3.0, 2.0, 0.0]
    trend = popularity_scores(events(), items, half_life_days=30.0)["*"]
    assert trend[1] > trend[0]
    assert trend[1] == pytest.approx(1.0 + 0.5 ** (1 / 30))


def test_per_channel_and_per_segment() -> None:
    items = IdMap(["old", "new", "meh"], kind="item")
    by_channel = popularity_scores(events(), items, by="channel")
    assert by_channel["email"].tolist() == [0.0, 2.0, 0.0]
    assert by_channel["web"].tolist() == [3.0, 0.0, 0.0]
    segments = pd.Series({"a": "vip", "b": "vip", "c": "new", "d": "new"})
    by_segment = popularity_scores(events(), items, by=segments)
    assert by_segment["vip"].tolist() == [2.0, 1.0, 0.0]
    assert by_segment["new"].tolist() == [1.0, 1.0, 0.0]
    with pytest.raises(InvalidInputError, match="no column 'region'"):
        popularity_scores(events(), items, by="region")
