"""`touchpoint experiments` end to end against a real Redis: apply, track, report."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pytest
import redis
import typer
from typer.testing import CliRunner, Result

from experiments.assignment import assign
from experiments.attribution import ConversionEvent
from jobs.cli import build_app
from store.experiment_store import ExperimentStore, Served
from store.keys import Keys

START = datetime(2026, 11, 1, tzinfo=UTC)
YAML = """
experiments:
  - key: exp1
    status: running
    control: als
    start: 2026-11-01T00:00:00Z
    variants:
      - {{name: als, weight: {a}, strategy: {{model: als}}}}
      - {{name: lightfm, weight: {b}, strategy: {{model: lightfm}}}}
"""


def cli() -> typer.Typer:
    return build_app()  # the real app: its group maps errors to exit codes


def run(*args: str) -> Result:
    return CliRunner().invoke(cli(), ["experiments", *args])


@pytest.fixture
def data(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    (tmp_path / "data").mkdir()
    return tmp_path / "data"


def write_yaml(path: Path, a: float, b: float) -> Path:
    path.write_text(YAML.format(a=a, b=b))
    return path


def simulate(client: redis.Redis, data: Path) -> dict[str, dict[str, float]]:
    """Serve 600 customers, post their purchases; return what was sent per variant."""
    store = ExperimentStore(client, Keys("tp"))
    exp = store.get("exp1")
    rng = np.random.default_rng(5)
    sent: dict[str, dict[str, float]] = {}
    history = []
    t0 = START.timestamp() + 3600
    for i in range(600):
        customer = f"c{i}"
        variant = assign(exp, customer_id=customer).variant
        assert variant is not None
        pre = float(rng.gamma(2, 30))
        history.append((f"h{i}", customer, "purchase", "2026-10-15T10:00:00Z", pre))
        views = int(rng.integers(1, 4))
        for v in range(views):
            store.record_exposure(
                customer_id=customer,
                served=[Served("exp1", variant)],
                recommendation_id=f"r{i}-{v}",
                timestamp=t0 + v,
            )
        s = sent.setdefault(variant, {"users": 0, "exposures": 0, "conversions": 0, "revenue": 0})
        s["users"] += 1
        s["exposures"] += views
        if rng.random() < min(0.9, 0.3 * pre / 60):  # big spenders buy more: CUPED helps
            value = round(0.5 * pre + float(rng.gamma(2, 5)), 2)
            event = ConversionEvent(customer, "purchase", t0 + 600, value, f"r{i}-0", f"e{i}")
            assert store.record_conversions([event], {"exp1": exp}) == [["exp1"]]
            s["conversions"] += 1
            s["revenue"] += value
    frame = pd.DataFrame(history, columns=["event_id", "customer_id", "type", "timestamp", "value"])
    frame.assign(item_id="i1").to_csv(data / "events.csv", index=False)
    return sent


def test_apply_track_and_report_counts_exactly_what_was_sent(
    data: Path, tmp_path: Path, redis_client: redis.Redis
) -> None:
    result = run("apply", str(write_yaml(tmp_path / "e.yaml", 50, 50)), "--data", str(data))
    assert result.exit_code == 0, result.output
    sent = simulate(redis_client, data)

    result = run("report", "exp1", "--data", str(data), "--json")
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    got = {v["name"]: v for v in report["variants"]}
    for name, s in sent.items():
        assert got[name]["users"] == s["users"]
        assert got[name]["exposures"] == s["exposures"]
        assert got[name]["conversions"] == s["conversions"]
        assert got[name]["revenue"] == pytest.approx(s["revenue"])
    assert report["variants"][0]["name"] == "als"
    assert report["cuped_variance_reduction"] > 0.05  # pre-period spend read from events.csv
    assert report["variants"][1]["revenue_per_user_lift_cuped"] is not None

    text = run("report", "exp1", "--data", str(data))
    assert text.exit_code == 0 and "lightfm" in text.stdout and "SRM" in text.stdout
    csv = run("report", "exp1", "--data", str(data), "--csv").stdout.splitlines()
    assert csv[0].startswith("variant,is_control,users") and len(csv) == 3


def test_reapplying_new_weights_keeps_customers_where_possible(data: Path, tmp_path: Path) -> None:
    assert (
        run("apply", str(write_yaml(tmp_path / "a.yaml", 50, 50)), "--data", str(data)).exit_code
        == 0
    )
    result = run(
        "apply", str(write_yaml(tmp_path / "b.yaml", 60, 40)), "--data", str(data), "--json"
    )
    assert result.exit_code == 0, result.output
    assert "updated" in orjson.loads(result.stdout)["exp1"]
    listed = orjson.loads(run("list", "--data", str(data), "--json").stdout)
    assert listed[0]["allocation"] == {"als": [[0, 5000], [9000, 10000]], "lightfm": [[5000, 9000]]}
    who = run("assign", "exp1", "c1", "--data", str(data), "--json")
    assert orjson.loads(who.stdout)["variant"] in {"als", "lightfm"}


def test_bad_input_exits_2_with_a_clear_message(data: Path, tmp_path: Path) -> None:
    result = run("apply", str(write_yaml(tmp_path / "bad.yaml", 70, 50)), "--data", str(data))
    assert result.exit_code == 2
    assert "bad.yaml" in result.output and "sum to 100" in result.output
    result = run("report", "nope", "--data", str(data))
    assert result.exit_code == 2 and "no experiment with key 'nope'" in result.output
