"""`touchpoint insights` end to end: generate → insights → API, against a real Redis."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.services import insights as service
from api.settings import ApiSettings
from contracts.tables import load_tables
from insights.journey import DEFAULT_STAGES
from jobs.cli import build_app
from jobs.generate import generate
from jobs.pipeline import insights_step
from store.client import sync_client
from store.config import StoreConfig
from store.insights import ARTIFACT
from store.versions import Versions

RULES = Path(__file__).resolve().parents[2] / "rules"
HANGUL = re.compile(r"[\uac00-\ud7a3]")
BAD_MAP = "stages: [a, b]\ntouchpoints:\n  checkout: {stage: a}\n  app: {stage: nowhere}\n"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("insights") / "data"
    generate(customers=2500, items=150, seed=4, out=out, events_per_customer=8)
    return out


@pytest.fixture(autouse=True)
def setup(monkeypatch, redis_url):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(RULES))
    monkeypatch.setattr(service, "CACHE", service.DocumentCache(live_seconds=0))


def live_version(redis_url: str) -> str | None:
    client = sync_client(redis_url)
    try:
        return Versions(client, StoreConfig(redis_url=redis_url)).live(ARTIFACT)
    finally:
        client.close()


def invoke(*args: str):
    return CliRunner().invoke(build_app(), ["insights", *args])


def test_generate_insights_api(data, redis_url, tmp_path):
    output = tmp_path / "scores.csv"
    result = invoke("--data", str(data), "--output", str(output))
    assert result.exit_code == 0, result.output
    assert "CX scores by touchpoint" in result.output
    version = live_version(redis_url)
    assert version is not None
    written = pd.read_csv(output)
    assert {"table", "n", "value", "low", "high", "insufficient"} <= set(written.columns)

    settings = ApiSettings(data_dir=data, redis_url=redis_url)
    with TestClient(create_app(settings)) as api:
        scores = api.get("/v1/insights/scores?metric=nps&by=touchpoint").json()
        assert scores["version"] == version
        feedback = load_tables(data)["feedback"]
        nps = feedback[feedback["survey"] == "nps"]
        by_touchpoint = {r["touchpoint"]: r for r in scores["rows"]}
        assert set(by_touchpoint) == set(nps["touchpoint"])
        for touchpoint, group in nps.groupby("touchpoint", observed=True):  # the truth, by hand
            truth = 100 * ((group["score"] >= 9).mean() - (group["score"] <= 6).mean())
            row = by_touchpoint[touchpoint]
            assert row["n"] == len(group)
            assert row["value"] == pytest.approx(truth, abs=1e-4)  # documents carry 4 decimals
            assert row["low"] < truth < row["high"]

        journey = api.get("/v1/insights/journey").json()
        assert journey["stages"] == list(DEFAULT_STAGES)
        assert [s["stage"] for s in journey["batch"]["stages"]] == list(DEFAULT_STAGES)
        assert all(s["n"] > 0 for s in journey["batch"]["stages"])

        themes = api.get("/v1/insights/themes").json()["themes"]
        assert themes and any(HANGUL.search(" ".join(t["terms"])) for t in themes)
        delivery = api.get("/v1/insights/themes?touchpoint=delivery").json()["themes"]
        assert delivery and all(t["touchpoints"].get("delivery") for t in delivery)

        # the published model (trained on the generated comments) tells good lines from bad
        texts = ["배송이 정말 빨라요", "배송이 너무 늦었어요", "Fast delivery, thank you",
                 "Parcel arrived late"]  # fmt: skip
        sentiment = api.post("/v1/insights/sentiment", json={"texts": texts}).json()
        good_ko, bad_ko, good_en, bad_en = sentiment["scores"]
        assert good_ko > bad_ko and good_en > bad_en
        assert api.get("/v1/insights/drivers?metric=nps").json()["data"]["drivers"]


def test_json_output_holds_every_document(data, tmp_path):
    output = tmp_path / "all.json"
    result = invoke("--data", str(data), "--no-publish", "--json", "--output", str(output))
    assert result.exit_code == 0, result.output
    printed = orjson.loads(result.stdout)
    written = orjson.loads(output.read_bytes())
    assert set(written) == set(printed["documents"])
    assert {"journey", "journey_map", "summary", "themes", "drivers/nps"} <= set(written)
    journey_map = written["journey_map"]
    assert journey_map["touchpoints"]["support"]["stage"] == "after_use"
    events = load_tables(data)["events"]
    assert sum(journey_map["event_counts"].values()) == len(events)  # every event mapped
    purchases = (events["type"] == "purchase") & ~events["channel"].isin(["store", "call_centre"])
    assert journey_map["event_counts"]["checkout"] >= purchases.sum()


def test_a_malformed_journey_map_exits_2_with_file_and_line_and_keeps_insights_live(
    data, redis_url, tmp_path
):
    assert invoke("--data", str(data)).exit_code == 0
    before = live_version(redis_url)
    bad = tmp_path / "journey.yaml"
    bad.write_text(BAD_MAP)
    result = invoke("--data", str(data), "--journey", str(bad))
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert (
        f"{bad}, line 4: touchpoints.app.stage: touchpoint 'app': unknown stage 'nowhere'"
        in message
    )
    assert live_version(redis_url) == before


def test_empty_feedback_gives_a_well_formed_result_with_a_note(tmp_path):
    (tmp_path / "items.csv").write_text("item_id\ni1\n")
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,item_id,type,timestamp\ne1,c1,i1,view,2024-01-01\n"
    )
    result = invoke("--data", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    summary = orjson.loads(result.stdout)["documents"]["summary"]
    assert summary["responses"] == 0
    assert any("no feedback" in note for note in summary["notes"])


def test_the_run_step_reports_a_failure_and_leaves_the_previous_insights_live(
    data, redis_url, tmp_path, monkeypatch
):
    tables = load_tables(data)
    first = insights_step(data, tables, pd.DataFrame({"customer_id": [], "segments": []}))
    assert first["insights version"] == live_version(redis_url)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "journey.yaml").write_text(BAD_MAP)
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(rules))
    failed = insights_step(data, tables, pd.DataFrame({"customer_id": [], "segments": []}))
    assert failed["insights"].startswith("failed, previous version stays live")
    assert "line 4" in failed["insights"]
    assert live_version(redis_url) == first["insights version"]


def test_the_sentiment_command_scores_texts_with_the_published_model(data, tmp_path):
    texts = ["배송이 정말 빨라요", "배송이 너무 늦었어요"]
    before = CliRunner().invoke(build_app(), ["sentiment", *texts, "--data", str(data)])
    assert before.exit_code == 2 and "no sentiment model published" in before.output
    assert invoke("--data", str(data)).exit_code == 0
    listed = tmp_path / "texts.txt"
    listed.write_text("Fast delivery, thank you\n\nParcel arrived late\n")
    result = CliRunner().invoke(
        build_app(), ["sentiment", *texts, "--file", str(listed), "--data", str(data), "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = orjson.loads(result.stdout)["scores"]
    assert [r["text"] for r in rows] == [*texts, "Fast delivery, thank you", "Parcel arrived late"]
    good_ko, bad_ko, good_en, bad_en = (r["sentiment"] for r in rows)
    assert good_ko > bad_ko and good_en > bad_en
    assert all(-1 <= r["sentiment"] <= 1 for r in rows)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "yesterday"], "--since 'yesterday': not an ISO date"),
        (["--since", "2026-03-02", "--until", "2026-03-01"], "is after --until"),
        (["--by", "colour"], "--by 'colour'"),
        (["--period", "fortnight"], "--period 'fortnight'"),
        (["--output", "scores.xlsx"], "use a .csv, .parquet or .json file name"),
    ],
)
def test_bad_options_exit_2_and_publish_nothing(data, redis_url, args, message):
    result = invoke("--data", str(data), *args)
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    assert live_version(redis_url) is None
