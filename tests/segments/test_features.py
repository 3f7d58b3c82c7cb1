from __future__ import annotations

import itertools
import math
import random
import statistics
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from segments.features import compute_features, rfm_aggregate
from tests.segments import factories as f


def _by_id(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.set_index(frame["customer_id"].astype(str))


def test_orders_are_counted_once_and_empty_order_ids_count_alone() -> None:
    ev = f.events([
        {"customer_id": "a", "timestamp": "2024-03-01", "order_id": "o1", "value": 10},
        {"customer_id": "a", "timestamp": "2024-03-01", "order_id": "o1", "value": 5},
        {"customer_id": "a", "timestamp": "2024-03-05", "order_id": "", "value": 20},
        {"customer_id": "a", "timestamp": "2024-03-06", "order_id": "", "value": 1},
        {"customer_id": "a", "timestamp": "2024-03-07", "type": "view", "value": 99},
        {"customer_id": "a", "timestamp": "2024-03-20"},  # after as_of: ignored
    ])  # fmt: skip
    out = _by_id(compute_features(customers=f.customers(["a"]), events=ev, as_of="2024-03-11"))
    assert out.loc["a", "frequency"] == 3
    assert out.loc["a", "monetary"] == pytest.approx(36.0)
    assert out.loc["a", "recency_days"] == 5
    assert out.loc["a", "aov"] == pytest.approx(12.0)


def test_prospects_are_kept_and_future_customers_are_not() -> None:
    cust = f.customers(["buyer", "browser", "silent", "future"],
                       created=["2024-01-01", None, "2024-02-01", "2024-12-01"])  # fmt: skip
    ev = f.events([
        {"customer_id": "buyer", "timestamp": "2024-03-01", "value": 3},
        {"customer_id": "browser", "timestamp": "2024-03-02", "type": "view"},
        {"customer_id": "stranger", "timestamp": "2024-03-03", "value": 4},
    ])  # fmt: skip
    out = _by_id(compute_features(customers=cust, events=ev))
    assert list(out.index) == ["buyer", "browser", "silent", "stranger"]
    assert out.loc["browser", "frequency"] == 0 and math.isnan(out.loc["browser", "recency_days"])
    assert out.loc["silent", "events"] == 0
    assert out.loc["silent", "tenure_days"] == 31  # created 2024-02-01, as_of 2024-03-03
    assert out.loc["browser", "tenure_days"] == 1  # unknown created_at: first event


def test_interval_is_median_gap_between_distinct_order_dates() -> None:
    days = ["2024-01-01", "2024-01-01", "2024-01-03", "2024-01-10", "2024-01-30"]
    ev = f.events([{"customer_id": "a", "timestamp": d, "order_id": f"o{i}"}
                   for i, d in enumerate(days)])  # fmt: skip
    out = _by_id(compute_features(customers=f.customers(["a"]), events=ev))
    assert out.loc["a", "interval_days"] == 7  # gaps 2, 7, 20
    assert out.loc["a", "last_gap_days"] == 20
    assert out.loc["a", "prior_interval_days"] == 4.5  # gaps before the last: 2, 7


def test_channel_shares_top_categories_feedback_and_loyalty() -> None:
    cust = f.customers(["a", "b"], tiers=["gold", "none"], points=[120, 0])
    ev = f.events([
        {"customer_id": "a", "timestamp": "2024-03-01", "channel": "app", "item_id": "tv"},
        {"customer_id": "a", "timestamp": "2024-03-02", "channel": "app", "item_id": "tv"},
        {"customer_id": "a", "timestamp": "2024-03-03", "channel": "app", "item_id": "book"},
        {"customer_id": "a", "timestamp": "2024-03-04", "channel": "web", "item_id": "pen"},
        {"customer_id": "a", "timestamp": "2024-03-05", "channel": "web", "type": "view",
         "item_id": "sofa"},
    ])  # fmt: skip
    cat = f.items({"tv": "electronics", "book": "books", "pen": "office", "sofa": "home"})
    fb = f.feedback([
        ("a", "nps", 3, "2024-01-01"), ("a", "nps", 10, "2024-02-01"),
        ("a", "nps", 0, "2024-04-01"),  # after as_of
        ("a", "csat", 2, "2024-02-01"), ("b", "ces", 6, "2024-02-01"),
    ])  # fmt: skip
    out = _by_id(compute_features(customers=cust, events=ev, items=cat, feedback=fb))
    assert out.loc["a", "channel_share.app"] == pytest.approx(0.6)
    assert out.loc["a", "channel_share.web"] == pytest.approx(0.4)
    assert out.loc["a", "channel_share.store"] == 0.0
    assert out.loc["a", "main_channel"] == "app"
    assert out.loc["a", "top_categories"] == "electronics;books;office"  # views don't count
    assert out.loc["a", "top_category"] == "electronics"
    assert out.loc["a", "nps_latest"] == 10 and out.loc["a", "csat_latest"] == 2
    assert out.loc["b", "ces_latest"] == 6 and math.isnan(out.loc["b", "nps_latest"])
    assert out.loc["a", "loyalty_tier"] == "gold" and out.loc["a", "points_balance"] == 120


def test_matches_a_plain_python_computation_on_random_data() -> None:
    rng = random.Random(3)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = []
    for _i in range(600):
        rows.append({
            "customer_id": f"c{rng.randrange(40)}",
            "timestamp": (start + timedelta(hours=rng.randrange(24 * 90))).isoformat(),
            "type": rng.choice(["purchase", "purchase", "view", "click"]),
            "order_id": rng.choice(["", f"o{rng.randrange(80)}"]),
            "value": round(rng.uniform(1, 100), 2),
        })  # fmt: skip
    as_of = datetime(2024, 3, 15, tzinfo=UTC)
    out = _by_id(compute_features(customers=f.customers([]), events=f.events(rows), as_of=as_of))
    for cid in {str(r["customer_id"]) for r in rows}:
        mine = [r for r in rows if r["customer_id"] == cid and r["type"] == "purchase"
                and datetime.fromisoformat(str(r["timestamp"])) <= as_of]  # fmt: skip
        seen = [r for r in rows if r["customer_id"] == cid
                and datetime.fromisoformat(str(r["timestamp"])) <= as_of]  # fmt: skip
        if not seen:
            assert cid not in out.index
            continue
        orders = {r["order_id"] for r in mine if r["order_id"]}
        frequency = len(orders) + sum(1 for r in mine if not r["order_id"])
        assert out.loc[cid, "frequency"] == frequency
        assert out.loc[cid, "monetary"] == pytest.approx(sum(float(r["value"]) for r in mine))
        if mine:
            times = [datetime.fromisoformat(str(r["timestamp"])) for r in mine]
            assert out.loc[cid, "recency_days"] == (as_of - max(times)).days
            dates = sorted({t.date() for t in times})
            gaps = [(b - a).days for a, b in itertools.pairwise(dates)]
            expect = statistics.median(gaps) if gaps else np.nan
            assert out.loc[cid, "interval_days"] == pytest.approx(expect, nan_ok=True)


def test_bad_input_gets_a_domain_error() -> None:
    ev = f.events([{"customer_id": "a", "timestamp": "2024-03-01"}])
    with pytest.raises(InvalidInput, match="lacks required column"):
        compute_features(customers=f.customers(["a"]), events=ev.drop(columns=["type"]))
    with pytest.raises(InvalidInput, match="not a date"):
        compute_features(customers=f.customers(["a"]), events=ev, as_of="last tuesday")
    with pytest.raises(InvalidInput, match="no events"):
        compute_features(customers=f.customers(["a"]), events=ev.iloc[:0])


def test_rfm_aggregate_agrees_with_the_full_features_for_purchasers() -> None:
    rows = [
        {"customer_id": f"c{i % 7}", "timestamp": f"2024-0{1 + i % 5}-{1 + i % 27:02d}",
         "type": "purchase" if i % 3 else "view", "order_id": f"o{i // 2}" if i % 4 else "",
         "value": float(i)}
        for i in range(80)
    ]  # fmt: skip
    ev = f.events(rows)
    full = _by_id(compute_features(customers=f.customers([]), events=ev, as_of="2024-04-10"))
    lean = _by_id(rfm_aggregate(ev, as_of="2024-04-10"))
    buyers = full[full["frequency"] > 0]
    assert sorted(lean.index) == sorted(buyers.index)
    columns = ["recency_days", "frequency", "monetary"]
    pd.testing.assert_frame_equal(lean.loc[buyers.index, columns], buyers[columns],
                                  check_names=False)  # fmt: skip
