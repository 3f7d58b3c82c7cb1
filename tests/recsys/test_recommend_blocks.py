"""`touchpoint recommend` reads events and profiles once for a million customers; what each
block sees must be what the per-block functions it replaced made (`build_interactions`,
`consumed_matrix`, `customer_profiles` read by `customer_segments`)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import jobs.recommend as recommend
from jobs import recommend_output
from jobs.modelops import saved_weights
from jobs.profiles import customer_profiles
from jobs.recommend_output import Writer
from jobs.recommend_people import people
from recsys.consumption import Consumption, consumed_matrix
from recsys.matrix import IdMap, build_interactions
from recsys.served import customer_segments

TYPES = ["view", "click", "add_to_cart", "purchase", "redeem", "dismiss", "impression", "rate"]


def log(rng: np.random.Generator, n: int, arrow: bool) -> pd.DataFrame:
    strings = "string[pyarrow]" if arrow else object
    types = rng.choice(TYPES, n)
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"c{i}" for i in rng.integers(0, 70, n)], strings),
            "item_id": pd.array([f"i{i}" for i in rng.integers(0, 45, n)], strings),
            "type": pd.Categorical(types, categories=TYPES) if arrow else types,
            "value": rng.integers(1, 6, n).astype(float),
            "timestamp": pd.Timestamp("2024-06-01", tz="UTC"),
        }
    )


@pytest.mark.parametrize("arrow", [True, False])
def test_each_blocks_matrices_are_the_per_block_functions(arrow: bool, monkeypatch) -> None:
    rng = np.random.default_rng(11)
    monkeypatch.setattr(recommend, "BLOCK", 16)
    events = log(rng, 900, arrow)
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(40)],
                          "kind": rng.choice(["product", "content", "offer"], 40)})  # fmt: skip
    records = items.to_dict("records")
    model_items = [*rng.permutation([f"i{i}" for i in range(40)])[:35], "i41", "i99"]
    bundle = SimpleNamespace(items=IdMap(model_items), info={"ratings": "value"})
    ids = [f"c{i}" for i in rng.permutation(80)[:60]]  # some without events; some events not ours
    consumption = Consumption(by_kind={"content": frozenset({"view"})})
    coded = recommend._Events(events, ids, items, bundle, records, consumption)
    model_kinds = np.array([r.get("kind", "") for r in coded.model_records], dtype=object)
    position = pd.Index(ids).get_indexer(events["customer_id"].astype(str))
    for start in range(0, len(ids), 16):
        mine = ids[start : start + 16]
        rows = np.flatnonzero((position >= start) & (position < start + len(mine)))
        block = events.iloc[rows[np.argsort(position[rows], kind="stable")]]  # as blocks read
        history, had_model, had = coded.block(start, len(mine))
        want = build_interactions(
            block, config=saved_weights(bundle), customer_ids=mine,
            item_ids=bundle.items.to_array(), drop_unknown=True,
        ).matrix  # fmt: skip
        customers = IdMap(mine)
        want_model = consumed_matrix(block, consumption, customers=customers, items=bundle.items,
                                     item_kinds=model_kinds)  # fmt: skip
        want_had = consumed_matrix(block, consumption, customers=customers,
                                   items=IdMap(items["item_id"]),
                                   item_kinds=items["kind"].astype(str).to_numpy())  # fmt: skip
        for got, expected in ((history, want), (had_model, want_model), (had, want_had)):
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got.indptr, expected.indptr)
            np.testing.assert_array_equal(got.indices, expected.indices)
            np.testing.assert_array_equal(got.data, expected.data)
        assert history.nnz and had.nnz


def reference(tables: dict, segments: pd.DataFrame | None, ids: list[str]) -> dict:
    """What `touchpoint recommend` read of each customer before: the published profile."""
    customers = tables["customers"]
    chosen = customers[customers["customer_id"].astype(str).isin(set(ids))]
    seg = None if segments is None else segments[segments["customer_id"].isin(set(ids))]
    none = pd.DataFrame(columns=["customer_id", "survey", "score", "timestamp"])
    return {
        cid: (customer_segments(p), str(p.get("loyalty_tier") or "none"), p.get("consent") or {})
        for cid, p in customer_profiles(chosen, seg, none)
    }


def test_profiles_read_column_by_column_are_the_published_ones() -> None:
    rng = np.random.default_rng(12)
    n = 120
    customers = pd.DataFrame(
        {
            "customer_id": pd.array([f"c{i}" for i in range(n)], "string[pyarrow]"),
            "loyalty_tier": pd.Categorical(
                rng.choice(np.array(["none", "gold", "silver", "", None], object), n)
            ),
            "points_balance": rng.integers(0, 500, n),
            "country": "BE",
            **{f"consent_{c}": rng.random(n) < 0.5 for c in ("email", "push", "sms")},
        }
    )
    pick = np.array(["Champions", "Loyal", "", None, np.nan], dtype=object)
    m = 90
    segments = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in rng.integers(30, 140, m)],  # repeats; new ones
            "rfm_segment": rng.choice(pick, m),
            "lifecycle_stage": rng.choice(np.array(["active", "lapsed", None], object), m),
            "nps_group": rng.choice(np.array(["promoter", "", None], object), m),
            "segments": rng.choice(np.array(["vip;;eu", "", None, "b2b"], object), m),
        }
    )
    ids = [f"c{i}" for i in rng.permutation(150)[:110]]
    tables = {"customers": customers}
    for seg in (segments, None):
        want = reference(tables, seg, ids)
        segs, tiers, consents = people(tables, seg, ids, consent=True)
        got = {c: (list(s), t, k) for c, s, t, k in zip(ids, segs, tiers, consents, strict=True)}
        assert got == {c: want.get(c, ([], "none", {})) for c in ids}
        assert sum(1 for s in segs if len(s) > 1) > 5 or seg is None


@pytest.mark.parametrize("awkward", [False, True])
def test_the_csv_holds_the_bytes_pandas_writes(awkward: bool, tmp_path) -> None:
    rng = np.random.default_rng(13)
    items = [f"P{i:03d}" for i in range(50)] + (['odd,"id"'] if awkward else [])
    ids = [f"C{i:05d}" for i in range(30)] + (["with,comma"] if awkward else [])
    idx = rng.integers(-1, len(items), (len(ids), 7))
    scores = rng.uniform(0.3, 1.0, idx.shape).astype(np.float32)
    scores.ravel()[:12] = [1.0, 0.75, 1e-5, 123456.7, -0.0, 3e-4, 0.5, 2.0, 1e-3, 99999.0,
                           np.nan, 7e20]  # fmt: skip
    path = tmp_path / "recs.csv"
    with Writer(path, items) as write:
        write(ids[:13], idx[:13], scores[:13])
        write(ids[13:], idx[13:], scores[13:])
    names = np.array(items, dtype=object)
    frames = [recommend_output._frame(ids[a:b], names, idx[a:b], scores[a:b])
              for a, b in ((0, 13), (13, len(ids)))]  # fmt: skip
    assert path.read_text() == pd.concat(frames).to_csv(index=False)
    empty = tmp_path / "none.csv"
    with Writer(empty, items):
        pass
    assert empty.read_text() == pd.DataFrame(columns=recommend_output.HEADER).to_csv(index=False)


def test_parquet_holds_the_same_rows(tmp_path) -> None:
    rng = np.random.default_rng(14)
    items = [f"P{i:03d}" for i in range(20)]
    ids = [f"C{i}" for i in range(9)]
    idx = rng.integers(-1, 20, (9, 4))
    scores = rng.uniform(0.4, 1.0, idx.shape).astype(np.float32)
    path = tmp_path / "recs.parquet"
    with Writer(path, items) as write:
        write(ids[:4], idx[:4], scores[:4])
        write(ids[4:], idx[4:], scores[4:])
    frame = recommend_output._frame(ids, np.array(items, dtype=object), idx, scores)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame.reset_index(drop=True),
                                  check_dtype=False)  # fmt: skip
    empty = tmp_path / "none.parquet"
    with Writer(empty, items):
        pass
    assert list(pd.read_parquet(empty).columns) == list(recommend_output.HEADER)
