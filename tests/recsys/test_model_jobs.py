"""The model commands end to end on a small planted data directory (real loader, CLI)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from jobs.cli import build_app
from jobs.modelops import prepare, registry_for, run_train, with_segments
from tests.recsys.factories import make_events, planted

runner = CliRunner()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two customer groups buying from two halves of the catalogue, over 60 days."""
    root = tmp_path_factory.mktemp("data")
    x, ug, ig = planted(n_users=80, n_items=40, per_user=10, seed=5)
    coo = x.tocoo()
    rng = np.random.default_rng(0)
    days = rng.integers(0, 60, size=coo.nnz)
    types = np.where(rng.random(coo.nnz) < 0.5, "purchase", "click")
    pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(coo.nnz)],
            "customer_id": [f"c{u}" for u in coo.row],
            "item_id": [f"i{i}" for i in coo.col],
            "type": types,
            "timestamp": (pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(days, "D"))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .tolist(),
        }
    ).to_csv(root / "events.csv", index=False)
    pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(40)],
            "category": np.where(ig == 0, "shoes", "books"),
            "price": np.linspace(5, 100, 40).round(2),
        }
    ).to_csv(root / "items.csv", index=False)
    pd.DataFrame(
        {
            "customer_id": [f"c{u}" for u in range(80)],
            "loyalty_tier": np.where(ug == 0, "gold", "bronze"),
        }
    ).to_csv(root / "customers.csv", index=False)
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(build_app(), list(args))
    return result.exit_code, result.stdout


def test_train_then_list_then_recommend(data_dir: Path, tmp_path: Path) -> None:
    code, out = invoke("train", "--data", str(data_dir), "--budget-seconds", "20", "--json")
    assert code == 0, out
    trained = json.loads(out)
    assert trained["validation served_ndcg"] > trained["popularity served_ndcg"]
    code, out = invoke("models", "list", "--data", str(data_dir), "--json")
    versions = json.loads(out)
    assert [v["version"] for v in versions if v["active"]] == [trained["version"]]

    ids = tmp_path / "ids.txt"
    ids.write_text("customer_id\nc0\nc1\nstranger\n")
    out_csv = tmp_path / "recs.csv"
    code, out = invoke(
        "recommend", "--data", str(data_dir), "--customers", str(ids),
        "--k", "3", "--output", str(out_csv), "--json",
    )  # fmt: skip
    assert code == 0, out
    assert json.loads(out)["cold start"] == 1
    recs = pd.read_csv(out_csv)
    assert list(recs.columns) == ["customer_id", "rank", "item_id", "score"]
    assert recs.groupby("customer_id").size().to_dict() == {"c0": 3, "c1": 3, "stranger": 3}
    events = pd.read_csv(data_dir / "events.csv")
    bought = events[(events["type"] == "purchase") & (events["customer_id"] == "c0")]
    assert not set(recs[recs["customer_id"] == "c0"]["item_id"]) & set(bought["item_id"])
    # c0 is in group 0 (items i0..i19), c1 in group 1
    assert all(int(i[1:]) < 20 for i in recs[recs["customer_id"] == "c0"]["item_id"])
    assert all(int(i[1:]) >= 20 for i in recs[recs["customer_id"] == "c1"]["item_id"])


def test_evaluate_reports_every_model_beside_popularity(data_dir: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    code, out = invoke(
        "evaluate", "--data", str(data_dir), "--split", "random", "--k", "5",
        "--report", str(report), "--json",
    )  # fmt: skip
    assert code == 0, out
    result = json.loads(report.read_text())
    assert result == json.loads(out)
    names = [m["model"].split()[0] for m in result["models"]]
    assert names[0] == "popularity"
    assert {"ease", "als", "bpr", "item_knn", "lightfm"} <= set(names)
    ease = next(m for m in result["models"] if m["model"].startswith("ease"))
    assert ease["ndcg"] > result["models"][0]["ndcg"]


def test_bad_input_exits_2_with_a_clear_message(data_dir: Path, tmp_path: Path) -> None:
    code, _ = invoke("evaluate", "--data", str(data_dir), "--split", "sideways")
    assert code == 2
    code, _ = invoke("models", "show", "no-such-version", "--data", str(data_dir))
    assert code == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    code, _ = invoke(
        "recommend", "--data", str(data_dir), "--customers", str(empty),
        "--output", str(tmp_path / "o.csv"),
    )  # fmt: skip
    assert code == 2
    code, _ = invoke("models", "rollback", "--data", str(tmp_path))
    assert code == 2


def test_train_falls_back_to_a_random_split_when_time_cannot_split(tmp_path: Path) -> None:
    x, _, _ = planted(n_users=60, n_items=40, per_user=8, seed=2)
    coo = x.tocoo()
    rows = [(f"c{u}", f"i{i}", "purchase") for u, i in zip(coo.row, coo.col, strict=True)]
    tables = {
        "events": make_events(rows),  # every event at the same instant
        "items": pd.DataFrame({"item_id": [f"i{i}" for i in range(40)]}),
        "customers": pd.DataFrame(),
    }
    res = run_train(tmp_path, tables, budget_seconds=10)
    assert registry_for(tmp_path).show(res.version)["split"] == "random"
    assert res.selection.validation["ndcg"] > res.selection.popularity["ndcg"]


def test_segments_join_customers_as_hybrid_features() -> None:
    customers = pd.DataFrame({"customer_id": ["a", "b"], "loyalty_tier": ["gold", "none"]})
    segments = pd.DataFrame({"customer_id": ["b", "a"], "segment": ["champions", "at_risk"]})
    joined = with_segments(customers, segments)
    assert joined.set_index("customer_id")["segment"].to_dict() == {
        "a": "at_risk",
        "b": "champions",
    }
    ev = make_events([("a", "i1", "purchase"), ("b", "i2", "purchase")])
    tables = {
        "events": ev,
        "items": pd.DataFrame({"item_id": ["i1", "i2"]}),
        "customers": customers,
    }
    prep = prepare(tables, segments)
    assert prep.customer_encoder is not None
    assert "segment=champions" in prep.customer_encoder.vocabulary


def test_a_ratings_only_data_set_trains_says_what_consumes_and_never_serves_a_rated_item(
    tmp_path: Path,
) -> None:
    x, _, _ = planted(n_users=60, n_items=40, per_user=10, seed=8)
    coo = x.tocoo()
    rng = np.random.default_rng(1)
    pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(coo.nnz)],
            "customer_id": [f"c{u}" for u in coo.row],
            "item_id": [f"i{i}" for i in coo.col],
            "type": "rate",
            "value": rng.integers(1, 6, size=coo.nnz),
            "timestamp": "2024-03-01T10:00:00Z",
        }
    ).to_csv(tmp_path / "events.csv", index=False)
    pd.DataFrame({"item_id": [f"i{i}" for i in range(40)]}).to_csv(
        tmp_path / "items.csv", index=False
    )
    code, out = invoke("train", "--data", str(tmp_path), "--no-publish", "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert summary["consumed by"].startswith(f"purchase (0), rate ({coo.nnz:,}), redeem (0)")
    assert summary["ratings read as"] == "value"
    ids = tmp_path / "ids.txt"
    ids.write_text("\n".join(f"c{u}" for u in range(60)))
    code, out = invoke(
        "recommend", "--data", str(tmp_path), "--customers", str(ids), "--k", "5",
        "--output", str(tmp_path / "recs.csv"),
    )  # fmt: skip
    assert code == 0, out
    recs = pd.read_csv(tmp_path / "recs.csv")
    rated = set(zip([f"c{u}" for u in coo.row], [f"i{i}" for i in coo.col], strict=True))
    assert len(recs) == 60 * 5
    assert not rated & set(zip(recs["customer_id"], recs["item_id"], strict=True))
