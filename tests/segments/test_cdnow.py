"""Real data: the CDNOW purchase log (23,570 customers, 1997-01 to 1998-06) from the
`lifetimes==0.11.3` wheel, read from the cache `make data` fills (`bench._data`); a missing
file fails the test naming `make data`, never skips it. Recency, frequency, monetary and
R/F/M scores of every customer are checked against an independent plain-Python computation
written here."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from bench._data import MissingDataError, fetch_cdnow
from segments.features import compute_features, resolve_as_of
from segments.rfm import score_rfm
from tests.segments import factories as f


@pytest.fixture(scope="module")
def cdnow_lines() -> list[str]:
    try:
        path = fetch_cdnow(download=False)
    except MissingDataError as exc:
        pytest.fail(str(exc))
    return path.read_text(encoding="ascii").splitlines()[1:]


def _independent_scores(values: dict[str, float]) -> dict[str, int]:
    """Quintile score by average rank, ties sharing it: ceil(5 * avg_rank / n), in integers."""
    ordered = sorted(values.items(), key=lambda kv: kv[1])
    n, out, i = len(ordered), {}, 0
    while i < n:
        j = i
        while j + 1 < n and ordered[j + 1][1] == ordered[i][1]:
            j += 1
        lo_plus_hi = (i + 1) + (j + 1)  # twice the average 1-based rank
        score = -(-5 * lo_plus_hi // (2 * n))
        for k in range(i, j + 1):
            out[ordered[k][0]] = score
        i = j + 1
    return out


@pytest.mark.slow
def test_rfm_of_every_cdnow_customer_matches_an_independent_computation(
    cdnow_lines: list[str],
) -> None:
    rows = []
    dates: dict[str, set[date]] = defaultdict(set)
    spend: dict[str, float] = defaultdict(float)
    for line in cdnow_lines:
        cid, day, _cds, dollars = line.split()
        when = date(int(day[:4]), int(day[4:6]), int(day[6:]))
        dates[cid].add(when)
        spend[cid] += float(dollars)
        # one order per customer and day: several lines that day are one order
        rows.append({"customer_id": cid, "timestamp": when.isoformat(),
                     "order_id": f"{cid}-{day}", "value": float(dollars)})  # fmt: skip
    assert len(rows) == 69_659 and len(dates) == 23_570

    events = f.events(rows)
    features = compute_features(customers=f.customers([]), events=events)
    table = pd.concat([features, score_rfm(features)], axis=1)
    table = table.set_index(table["customer_id"].astype(str))
    as_of = max(max(d) for d in dates.values())
    assert resolve_as_of(events) == pd.Timestamp(as_of.isoformat(), tz="UTC")
    assert len(table) == 23_570

    recency = {cid: (as_of - max(d)).days for cid, d in dates.items()}
    frequency = {cid: len(d) for cid, d in dates.items()}
    r_score = _independent_scores({cid: -float(r) for cid, r in recency.items()})
    f_score = _independent_scores({cid: float(v) for cid, v in frequency.items()})
    m_score = _independent_scores(dict(spend))
    expected = pd.DataFrame({
        "recency_days": recency, "frequency": frequency, "monetary": dict(spend),
        "r_score": r_score, "f_score": f_score, "m_score": m_score,
    })  # fmt: skip
    got = table.loc[expected.index, expected.columns]
    exact = ["recency_days", "frequency", "r_score", "f_score", "m_score"]
    differs = (got[exact].astype(float) != expected[exact].astype(float)).any(axis=1)
    differs |= (got["monetary"] - expected["monetary"]).abs() > 1e-6
    assert not differs.any(), f"{differs.sum()} customers differ, e.g.\n{got[differs].head()}"
    # every customer bought, so every one has a named RFM segment
    assert (table["rfm_segment"] != "").all()
    # the scores are spread over all five quintiles, not collapsed
    assert set(table["r_score"]) == set(table["m_score"]) == {1, 2, 3, 4, 5}


def test_missing_cdnow_cache_fails_naming_make_data(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import bench._data as data

    monkeypatch.setattr(data, "CACHE", tmp_path / "empty-cache")
    with pytest.raises(MissingDataError, match="make data"):
        data.fetch_cdnow(download=False)
    assert not (tmp_path / "empty-cache").exists()  # nothing fetched from the registry
