"""`jobs.published_tables.popular_lists` for one batch run: only the lists asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd

from jobs.published_tables import POPULAR_N, TRENDING_HALF_LIFE_DAYS, popular_lists
from recsys.matrix import WeightConfig, event_weights


def tables(rng: np.random.Generator, n: int = 3000):
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(60)],
                          "kind": rng.choice(["product", "content", "offer"], 60)})  # fmt: skip
    channels = rng.choice(["web", "app", "email", None], n, p=[0.5, 0.3, 0.15, 0.05])
    events = pd.DataFrame(
        {
            "customer_id": pd.array([f"c{i}" for i in rng.integers(0, 200, n)], "string[pyarrow]"),
            "item_id": [f"i{i}" for i in rng.integers(0, 64, n)],  # a few not in the catalogue
            "type": rng.choice(["view", "click", "purchase", "dismiss"], n),
            "timestamp": pd.Timestamp("2024-06-01", tz="UTC")
            - pd.to_timedelta(rng.integers(0, 90, n), unit="D"),
            "channel": pd.Categorical(channels, categories=["web", "app", "email", "push"]),
        }
    )
    names = ["Champions", "Loyal", "At Risk", "", None]
    segments = pd.DataFrame({"customer_id": [f"c{i}" for i in range(0, 220, 1)],
                             "rfm_segment": rng.choice(np.array(names, object), 220)})  # fmt: skip
    return events, items, segments


def same(a: dict, b: dict) -> bool:
    return list(a) == list(b) and all(
        np.array_equal(a[k][0], b[k][0]) and np.array_equal(a[k][1], b[k][1]) for k in a
    )


def test_a_subset_holds_the_same_lists_and_only_those() -> None:
    events, items, segments = tables(np.random.default_rng(3))
    full = popular_lists(events, items, segments)
    assert {"global", "kind:offer", "channel:web", "channel:nan", "segment:Loyal"} <= set(full)
    assert "channel:push" not in full and "segment:" not in full  # no events; no segment
    asked = {"global", "kind:product", "channel:email", "channel:push", "segment:Loyal",
             "segment:Loyal:kind:product", "segment:At Risk:kind:offer"}  # fmt: skip
    part = popular_lists(events, items, segments, only=asked)
    assert set(part) == asked & set(full)
    assert same(part, {k: full[k] for k in part})
    known = pd.Index(items["item_id"]).get_indexer(events["item_id"])
    assert same(popular_lists(events, items, segments, item_index=known), full)


def test_categorical_and_arrow_columns_read_as_their_strings() -> None:
    events, items, segments = tables(np.random.default_rng(4))
    plain = events.assign(channel=events["channel"].astype(object),
                          customer_id=events["customer_id"].astype(object))  # fmt: skip
    assert same(popular_lists(events, items, segments), popular_lists(plain, items, segments))


def test_the_lists_rank_what_their_events_weigh() -> None:
    """A reference built event by event: an event counts for the lists of its item's kind,
    its channel and its customer's RFM segment (and that segment's list of its kind)."""
    events, items, segments = tables(np.random.default_rng(5))
    lists = popular_lists(events, items, segments)
    weight = np.clip(event_weights(events, WeightConfig(half_life_days=TRENDING_HALF_LIFE_DAYS)),
                     0.0, None)  # fmt: skip
    kind_of = dict(zip(items["item_id"], items["kind"], strict=True))
    row_of = {item: i for i, item in enumerate(items["item_id"])}
    segment_of = dict(zip(segments["customer_id"], segments["rfm_segment"], strict=True))
    totals: dict[str, np.ndarray] = {}
    for event, w in zip(events.itertuples(), weight, strict=True):
        if event.item_id not in row_of:
            continue
        kind, segment = kind_of[event.item_id], segment_of.get(event.customer_id)
        names = ["global", f"kind:{kind}"]
        names += [f"channel:{event.channel}"] if isinstance(event.channel, str) else []
        if isinstance(segment, str) and segment:  # prospects ('') have no list
            names.append(f"segment:{segment}")
            names += [f"segment:{segment}:kind:{kind}"] if kind != "product" else []
        for name in names:
            totals.setdefault(name, np.zeros(len(items)))[row_of[event.item_id]] += w
    for name, total in totals.items():
        order = np.argsort(-total, kind="stable")[:POPULAR_N]
        order = order[total[order] > 0]
        assert lists[name][0].tolist() == order.tolist(), name
        np.testing.assert_allclose(lists[name][1], total[order], rtol=1e-5, err_msg=name)
