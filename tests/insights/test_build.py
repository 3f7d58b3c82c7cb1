"""build_insights end to end on small generated tables: the documents the store publishes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pytest

from contracts.errors import InvalidInput
from insights.build import build_insights, document_name
from insights.sentiment import SentimentModel
from insights.stats import METRICS


@dataclass
class Journey:
    """Duck-typed journey map: the build needs `stages` and `stage_of` only."""

    stages: list[str] = field(
        default_factory=lambda: ["before_purchase", "purchase_and_use", "after_use"]
    )
    touchpoints: dict[str, str] = field(
        default_factory=lambda: {"search": "before_purchase", "checkout": "purchase_and_use",
                                 "delivery": "purchase_and_use", "support": "after_use"}
    )  # fmt: skip

    def stage_of(self, touchpoint: str) -> str:
        return self.touchpoints.get(touchpoint, "")


COMMENTS = np.array(
    ["", "", "배송이 너무 늦어요 정말 실망", "great service and fast delivery, thank you",
     "the app crashed at checkout 결제 오류", "친절한 상담 감사합니다 최고",
     "refund took forever, awful",
     "delivery late again, terrible", "love the new search, so easy"], dtype=object,
)  # fmt: skip


def tables(n: int = 3_000, seed: int = 0) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    customers = n // 4
    survey = rng.choice(["nps", "csat", "ces"], n)
    nps, csat, ces = rng.integers(0, 11, n), rng.integers(1, 6, n), rng.integers(1, 8, n)
    score = np.select([survey == "nps", survey == "csat"], [nps, csat], ces)
    touchpoint = rng.choice(["search", "checkout", "delivery", "support", "kiosk", ""], n)
    feedback = pd.DataFrame(
        {"response_id": [f"r{i}" for i in range(n)],
         "customer_id": [f"c{i}" for i in rng.integers(0, customers, n)],
         "survey": survey, "score": score, "comment": COMMENTS[rng.integers(0, len(COMMENTS), n)],
         "channel": rng.choice(["web", "app"], n), "touchpoint": touchpoint,
         "timestamp": pd.Timestamp("2026-01-01", tz="UTC")
         + pd.to_timedelta(rng.integers(0, 90 * 86_400, n), unit="s")}
    )  # fmt: skip
    people = pd.DataFrame({"customer_id": [f"c{i}" for i in range(customers)],
                           "loyalty_tier": rng.choice(["none", "gold"], customers)})  # fmt: skip
    return {"feedback": feedback, "customers": people}


def memberships(frame: pd.DataFrame) -> pd.DataFrame:
    ids = frame["customer_id"].unique()
    half = list(ids[::2])
    return pd.DataFrame({"customer_id": list(ids) + half,
                         "segment": ["everyone"] * len(ids) + ["half"] * len(half)})  # fmt: skip


def test_every_document_is_built_json_ready_and_counts_add_up() -> None:
    data = tables()
    built = build_insights(data, journey=Journey(), memberships=memberships(data["feedback"]))
    docs = built.documents
    json.dumps(docs, allow_nan=False)  # plain values, no NaN anywhere
    for metric in METRICS:
        for by in ("all", "touchpoint", "stage", "channel", "segment", "tier"):
            for period in ("all", "day", "week", "month"):
                assert f"scores/{metric}/{by}/{period}" in docs
        assert f"scores/{metric}/stage+segment/all" in docs
    feedback = data["feedback"]
    rows = docs[document_name("nps", ["touchpoint"], None)]["rows"]
    assert sum(r["n"] for r in rows) == (feedback["survey"] == "nps").sum()
    assert {r["touchpoint"] for r in rows} == set(feedback["touchpoint"])
    answers = feedback[feedback["survey"] == "nps"].merge(data["customers"], on="customer_id")
    tiers = {r["tier"]: r["n"] for r in docs["scores/nps/tier/all"]["rows"]}
    assert tiers == answers["loyalty_tier"].value_counts().to_dict()
    summary = docs["summary"]
    assert summary["responses"] == len(feedback)
    assert summary["unmapped_touchpoints"] == {
        "kiosk": int((feedback["touchpoint"] == "kiosk").sum())
    }
    assert summary["no_touchpoint"] == int((feedback["touchpoint"] == "").sum())
    assert (summary["since"], summary["until"]) == ("2026-01-01", "2026-03-31")
    journey = docs["journey"]["stages"]
    assert [s["stage"] for s in journey] == Journey().stages
    checkout_like = feedback["touchpoint"].isin(["checkout", "delivery"])
    assert journey[1]["n"] == int(checkout_like.sum())
    assert journey[1]["emotion"]["n_sentiment"] > 0
    assert docs["themes"]["themes"] and docs["drivers/nps"]["drivers"]
    assert docs["drivers/nps"]["change"]["period"] == "week"
    assert built.sentiment_model is not None
    assert SentimentModel.from_bytes(built.sentiment_model).score(["great"]).shape == (1,)
    assert "scores/nps/touchpoint/week" in built.tables
    assert "scores/nps/touchpoint/day" not in built.tables  # the CLI writes the chosen period


@pytest.mark.parametrize("feedback", [None, "empty"])
def test_missing_or_empty_feedback_gives_empty_documents_and_a_note(feedback: str | None) -> None:
    data = tables(10)
    if feedback is None:
        del data["feedback"]
    else:
        data["feedback"] = data["feedback"].iloc[:0]
    built = build_insights(data, journey=Journey())
    docs = built.documents
    json.dumps(docs, allow_nan=False)
    assert docs["scores/nps/touchpoint/week"]["rows"] == []
    assert docs["summary"]["responses"] == 0
    assert any("no feedback" in note for note in docs["summary"]["notes"])
    assert [s["n"] for s in docs["journey"]["stages"]] == [0, 0, 0]
    assert docs["themes"]["themes"] == [] and built.sentiment_model is None


def test_since_and_until_are_inclusive_dates_and_text_can_be_skipped() -> None:
    data = tables()
    since = pd.Timestamp("2026-02-01T09:00", tz="Asia/Seoul")  # 00:00 UTC: aware is converted
    built = build_insights(data, journey=Journey(), since=since, until="2026-02-28", text=False)
    stamps = data["feedback"]["timestamp"]
    inside = (stamps >= pd.Timestamp("2026-02-01", tz="UTC")) & (
        stamps < pd.Timestamp("2026-03-01", tz="UTC")
    )
    summary = built.documents["summary"]
    assert summary["responses"] == int(inside.sum())
    assert summary["since"] >= "2026-02-01" and summary["until"] <= "2026-02-28"
    assert "themes" not in built.documents and built.sentiment_model is None
    assert any("segment" in note for note in summary["notes"])  # asked for, no memberships
    assert "scores/nps/segment/all" not in built.documents


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"by": ["colour"]}, "by"), ({"period": "hour"}, "period"), ({"since": "last year"}, "since"),
     ({"until": "2026-02-30"}, "until")],
)  # fmt: skip
def test_unknown_dimension_period_or_date_names_the_field(
    kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        build_insights(tables(10), journey=Journey(), **kwargs)  # type: ignore[arg-type]
    assert info.value.details["field"] == field
