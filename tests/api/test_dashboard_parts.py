"""The dashboard's pure parts: session signing, the facts read from batch files (against
counts known by construction), the interval bars, the heatmap and the latency quantile."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from api.services import batch_facts
from api.ui import session
from api.ui.experiments_view import interval_bar, metric_rows
from api.ui.segments_view import funnel, heatmap
from api.ui.views import _quantile

SECRET = b"k" * 32


def test_a_signed_session_reads_back_and_any_change_is_refused():
    token = session.sign(SECRET, {"k": "abc", "n": "nonce", "x": time.time() + 60})
    assert session.unsign(SECRET, token)["k"] == "abc"
    body, _, mac = token.partition(".")
    assert session.unsign(b"other" * 8, token) is None
    assert session.unsign(SECRET, body + "." + mac[:-2] + "AA") is None
    forged = session.sign(b"attacker" * 4, {"k": "admin", "n": "n", "x": time.time() + 60})
    assert session.unsign(SECRET, forged.split(".")[0] + "." + mac) is None
    assert session.unsign(SECRET, "garbage") is None


def test_an_expired_session_is_refused():
    token = session.sign(SECRET, {"k": "abc", "n": "n", "x": time.time() - 1})
    assert session.unsign(SECRET, token) is None


def test_csrf_tokens_are_bound_to_the_session():
    assert session.csrf_token(SECRET, "a") == session.csrf_token(SECRET, "a")
    assert session.csrf_token(SECRET, "a") != session.csrf_token(SECRET, "b")
    assert session.csrf_token(SECRET, "a") != session.csrf_token(b"x" * 32, "a")


@pytest.mark.parametrize("path", ["//evil.example", "https://evil.example/ui", "/v1/x", "", None,
                                  "/ui\\@evil"])  # fmt: skip
def test_after_login_only_dashboard_paths(path):
    assert session.safe_next(path) == "/ui/"


def test_events_per_day_counts_what_was_written(tmp_path):
    """Known counts per (day, type), written as a CSV table and a Parquet partition."""
    rng = np.random.default_rng(4)
    start = datetime(2024, 3, 1, tzinfo=UTC)
    truth: dict[tuple[int, str], int] = {}
    rows = []
    for day in range(20):
        for kind in ("view", "purchase"):
            n = int(rng.integers(0, 30))
            truth[(day, kind)] = n
            for _ in range(n):
                at = start + timedelta(days=day, seconds=int(rng.integers(0, 86400)))
                rows.append({"event_id": f"e{len(rows)}", "customer_id": "c", "item_id": "i",
                             "type": kind, "timestamp": at})  # fmt: skip
    frame = pd.DataFrame(rows)
    first_half = frame.iloc[: len(frame) // 2].copy()
    first_half["timestamp"] = first_half["timestamp"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    first_half.to_csv(tmp_path / "events.csv", index=False)  # ISO 8601 text
    (tmp_path / "events").mkdir()
    frame.iloc[len(frame) // 2 :].to_parquet(tmp_path / "events" / "part-1.parquet")
    got = asyncio.run(batch_facts.events_per_day(tmp_path))
    assert got is not None and got["total"] == len(rows)
    first = int(start.timestamp())
    for (day, kind), n in truth.items():
        index = got["days"].index(first + day * 86400)
        assert got["series"][kind][index] == n


def test_segment_facts_grid_and_funnel_match_the_rows(tmp_path):
    frame = pd.DataFrame({
        "customer_id": ["a", "b", "c", "d", "e"],
        "r_score": [5, 5, 1, 3, 0],
        "f_score": [1, 1, 5, 3, 0],
        "monetary": [10.0, 20.0, 7.5, None, 0.0],
        "lifecycle_stage": ["active", "active", "churned", "new", "prospect"],
    })  # fmt: skip
    frame.to_parquet(tmp_path / "segments.parquet")
    facts = asyncio.run(batch_facts.segment_facts(tmp_path))
    assert facts is not None
    assert facts["rfm_counts"][0][0] == 2 and facts["rfm_revenue"][0][0] == 30.0  # R5 F1
    assert facts["rfm_counts"][4][4] == 1  # R1 F5
    assert facts["rfm_counts"][2][2] == 1 and facts["rfm_revenue"][2][2] == 0.0
    assert sum(map(sum, facts["rfm_counts"])) == 4  # the prospect has no scores
    stages = [s["stage"] for s in facts["lifecycle"]]
    assert stages == ["prospect", "new", "active", "churned"]
    assert funnel(facts["lifecycle"])[2]["width"] == 100.0


def test_heatmap_shades_by_share_of_the_largest_cell():
    cells = heatmap([[0, 5], [10, 0]], [[0.0, 1.0], [2.0, 0.0]])
    assert cells[1][0]["shade"] == 1.0 and cells[0][1]["shade"] == pytest.approx(0.525)
    assert cells[0][0]["shade"] == 0.05


def test_interval_bar_places_the_interval_around_zero():
    bar = interval_bar(0.1, 0.3, 0.2, 0.5)
    assert bar == {"left": 60.0, "width": 20.0, "point": 70.0, "sign": "up"}
    assert interval_bar(-0.4, -0.1, -0.2, 0.5)["sign"] == "down"
    assert interval_bar(-0.1, 0.2, 0.05, 0.5)["sign"] == "flat"
    assert interval_bar(-2.0, 2.0, 0.0, 0.5)["width"] == 100.0  # clipped to the bar
    assert interval_bar(None, 0.1, 0.0, 0.5) is None


def test_metric_rows_share_one_scale_per_metric():
    lift = {"absolute": 0.01, "absolute_ci": [0.0, 0.02], "relative": 0.1,
            "relative_ci": [-0.05, 0.25], "p_value": 0.2, "significant": False}  # fmt: skip
    variants = [
        {"name": "a", "is_control": True, "users": 10, "conversion_rate": 0.1},
        {"name": "b", "is_control": False, "users": 10, "conversion_rate": 0.11,
         "conversion_rate_lift": lift, "prob_beat_control": 0.8},
    ]  # fmt: skip
    rows = metric_rows(variants)
    assert [r["metric"] for r in rows] == ["Conversion rate"] * 2 + ["Revenue per user"] * 2
    assert rows[1]["scale"] == pytest.approx(0.275) and rows[1]["beat"] == 0.8
    assert rows[0]["bar"] is None


def test_latency_quantile_is_the_bucket_bound_holding_it():
    buckets = [(0.005, 50.0), (0.01, 94.0), (0.025, 100.0), (float("inf"), 100.0)]
    assert _quantile(list(buckets), 0.5) == 5.0
    assert _quantile(list(buckets), 0.95) == 25.0
    assert _quantile([(float("inf"), 0.0)], 0.95) is None
