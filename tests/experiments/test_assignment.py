"""Assignment: deterministic, sticky, uniform, layered and held out as defined."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
from scipy import stats

from experiments.assignment import assign, assign_all, bucket, buckets, is_held_out
from tests.experiments.factories import experiment

CUSTOMERS = [f"c{i}" for i in range(40_000)]
NOW = datetime(2026, 11, 23, tzinfo=UTC)


def variants_of(exp, customers=CUSTOMERS) -> np.ndarray:
    return np.array([assign(exp, customer_id=c, now=NOW).variant for c in customers], dtype=object)


def test_buckets_are_the_same_in_another_process_with_another_hash_seed() -> None:
    code = (
        "from experiments.assignment import bucket; "
        "print([bucket('s', f'c{i}') for i in range(50)])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str([bucket("s", f"c{i}") for i in range(50)])


def test_buckets_are_uniform_and_salts_are_independent() -> None:
    b1, b2 = buckets("salt-1", CUSTOMERS), buckets("salt-2", CUSTOMERS)
    counts = np.bincount(b1 // 1000, minlength=10)
    assert stats.chisquare(counts).pvalue > 0.001
    # independent salts: the joint distribution of halves is a fair 2x2 table
    table = np.histogram2d(b1 < 5000, b2 < 5000, bins=2)[0]
    assert stats.chi2_contingency(table).pvalue > 0.001


def test_assignment_is_sticky_and_splits_as_weighted() -> None:
    exp = experiment(weights=(30, 70))
    first, again = variants_of(exp), variants_of(exp)
    assert (first == again).all()
    share = (first == "control").mean()
    assert 0.29 < share < 0.31
    assert (
        stats.chisquare(
            [(first == "control").sum(), (first == "v1").sum()],
            [0.3 * len(first), 0.7 * len(first)],
        ).pvalue
        > 0.001
    )


def test_changing_weights_from_50_50_to_60_40_moves_about_ten_percent() -> None:
    before = experiment(weights=(50, 50))
    after = experiment(weights=(60, 40)).succeeding(before)
    old, new = variants_of(before), variants_of(after)
    moved = old != new
    assert 0.09 < moved.mean() < 0.11
    assert set(old[moved]) == {"v1"} and set(new[moved]) == {"control"}
    # without the previous allocation (a naive re-layout) the same change is as small for two
    # variants, but for three it is not; `succeeding` keeps it minimal there too
    three = experiment(weights=(34, 33, 33))
    relaid = experiment(weights=(50, 25, 25))
    kept = experiment(weights=(50, 25, 25)).succeeding(three)
    assert (variants_of(three) != variants_of(relaid)).mean() > 0.22
    assert 0.15 < (variants_of(three) != variants_of(kept)).mean() < 0.17


def test_same_layer_experiments_never_share_a_customer() -> None:
    a = experiment("a", layer="home", layer_buckets=[0, 5000])
    b = experiment("b", layer="home", layer_buckets=[5000, 10000])
    c = experiment("c", layer="email")
    in_a, in_b, in_c = (variants_of(e) != None for e in (a, b, c))  # noqa: E711
    assert not (in_a & in_b).any()
    assert (in_a | in_b).all()
    assert in_c.all()
    # within its half of the layer, a still splits 50/50: the variant hash is independent
    assert 0.48 < (variants_of(a)[in_a] == "control").mean() < 0.52
    found = assign_all([a, b, c], customer_id="c7", now=NOW)
    assert len(found) == 2 and {f.experiment for f in found} & {"a", "b"}


def test_global_holdout_excludes_the_same_customers_from_every_experiment() -> None:
    a = experiment("a", holdout_percent=10)
    b = experiment("b", layer="other", holdout_percent=10)
    out_a = np.array([assign(a, customer_id=c, now=NOW).reason == "holdout" for c in CUSTOMERS])
    out_b = np.array([assign(b, customer_id=c, now=NOW).reason == "holdout" for c in CUSTOMERS])
    assert 0.09 < out_a.mean() < 0.11
    assert (out_a == out_b).all()
    assert all(is_held_out(c, 10) for c in np.array(CUSTOMERS)[out_a][:100])


def test_targeting_and_schedule_gate_entry() -> None:
    exp = experiment(
        targeting={"channels": ["web"], "segments": ["loyal"]},
        start="2026-11-01T00:00:00Z",
        stop="2026-12-01T00:00:00Z",
    )

    def reason(**kw: object) -> str:
        base = {"customer_id": "c1", "channel": "web", "segments": ["loyal"], "now": NOW}
        return assign(exp, **{**base, **kw}).reason  # type: ignore[arg-type]

    assert reason() == "assigned"
    assert reason(channel="email") == "not_targeted"
    assert reason(channel=None) == "assigned"
    assert reason(segments=["new"]) == "not_targeted"
    assert reason(now=datetime(2026, 12, 1, tzinfo=UTC)) == "not_live"
    assert reason(now=datetime(2026, 10, 31, tzinfo=UTC)) == "not_live"
    draft = experiment(status="draft")
    assert assign(draft, customer_id="c1", now=NOW).reason == "not_live"
