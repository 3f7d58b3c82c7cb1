"""`build_insights`: the one entry point the batch calls — data tables in, JSON-ready
documents (and the sentiment model's bytes) out.

Documents (names are the store's and the API's keys):
- `scores/<metric>/<by>/<period>`: every metric × (overall, each single dimension) ×
  period (all, day, week, month), plus `stage+segment` (all and the chosen period);
  `<by>` joins dimensions with "+" (`all` = overall), `<period>` is `all` for no period;
- `journey`: per stage in journey order, NPS / CSAT / CES with intervals and n, and the
  emotion curve (mean sentiment and satisfaction);
- `drivers/nps`: key drivers, importance × performance, and the last period's change
  split into mix and rate;
- `themes`: the comment themes; `summary`: counts, date range, unmapped touchpoints, notes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from insights.documents import driver_document, journey_document, records, score_document
from insights.scores import (
    DIMENSIONS,
    PERIODS,
    PreparedResponses,
    prepare_responses,
    tabulate,
    with_metric,
)
from insights.stats import METRICS

ALL: Final = "all"
TWO_WAY: Final = (("stage", "segment"),)
TEXT_COLUMNS: Final = ("response_id", "comment", "survey", "score", "timestamp", "touchpoint",
                       "stage")  # fmt: skip


class Journey(Protocol):
    """What the build needs of `insights.journey.JourneyMap`."""

    @property
    def stages(self) -> list[str]: ...

    def stage_of(self, touchpoint: str) -> str: ...


@dataclass
class Insights:
    """The batch's result: documents to publish as they are, the sentiment model's bytes,
    and the score tables (by document name) for the CLI's CSV/Parquet output: overall and each
    single dimension, with no period and with the chosen one."""

    documents: dict[str, Any]
    sentiment_model: bytes | None = None
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def document_name(metric: str, by: Sequence[str], period: str | None) -> str:
    return f"scores/{metric}/{'+'.join(by) or ALL}/{period or ALL}"


def build_insights(
    tables: Mapping[str, pd.DataFrame],
    *,
    journey: Journey,
    memberships: pd.DataFrame | None = None,
    since: object = None,
    until: object = None,
    by: Sequence[str] = DIMENSIONS,
    period: str = "week",
    min_n: int = 30,
    text: bool = True,
) -> Insights:
    """Every document from the loaded tables (customers, items, events, feedback). An empty
    or missing feedback table gives well-formed empty documents and a note."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown or period not in PERIODS:
        field_name, value = ("by", unknown[0]) if unknown else ("period", period)
        known = ", ".join(DIMENSIONS if unknown else PERIODS)
        raise InvalidInput(f"{field_name} {value!r} is not one of {known}", field=field_name)
    notes: list[str] = []
    responses = survey_responses(tables, journey=journey, since=since, until=until)
    if memberships is None and "segment" in by:
        notes.append("no segment memberships: scores by segment left out")
    dims = [d for d in DIMENSIONS if d in by and (d != "segment" or memberships is not None)]
    out = Insights(documents={})
    if responses.empty:
        notes.append("no feedback responses in the window: run `touchpoint ingest` or add "
                     "feedback.csv; every score table is empty")  # fmt: skip
    prepared: dict[str, PreparedResponses] = {}
    for name, m in METRICS.items():  # metrics of one survey share its preparation
        same = next((p for p in prepared.values() if p.metric.survey == m.survey), None)
        prepared[name] = (
            with_metric(same, name)
            if same is not None
            else prepare_responses(responses, metric=name, memberships=memberships)
        )
    layouts = [(b, p) for b in [(), *((d,) for d in dims)] for p in (None, *PERIODS)]
    layouts += [(pair, p) for pair in TWO_WAY if set(pair) <= set(dims) for p in (None, period)]
    for name, prep in prepared.items():
        for b, p in layouts:
            table = tabulate(prep, by=b, period=p, min_n=min_n)
            doc = document_name(name, b, p)
            out.documents[doc] = score_document(prep.metric, b, p, table, min_n)
            if p in (None, period) and len(b) < 2:
                out.tables[doc] = table
    curve: list[dict[str, Any]] | None = None
    if text:
        curve, model = _voice(responses, journey, out, notes)
        out.sentiment_model = model
    else:
        notes.append("text analysis skipped (text=False): no themes, sentiment or curve")
    out.documents["journey"] = journey_document(
        {n: tabulate(p, by=["stage"], min_n=min_n) for n, p in prepared.items()},
        journey.stages, curve,
    )  # fmt: skip
    out.documents["drivers/nps"] = driver_document(
        responses, tables.get("customers"), tables.get("events"), memberships,
        prepared["nps"], period, notes,
    )  # fmt: skip
    out.documents["summary"] = _summary(responses, journey, period, min_n, notes, out)
    return out


def survey_responses(
    tables: Mapping[str, pd.DataFrame], *, journey: Journey, since: object, until: object
) -> pd.DataFrame:
    """The feedback in [since, until] (dates inclusive) with each response's journey
    `stage` ("" when unmapped) and its customer's loyalty `tier` ("" when unknown)."""
    feedback = tables.get("feedback")
    columns = ["response_id", "customer_id", "survey", "score", "timestamp", "comment",
               "channel", "touchpoint"]  # fmt: skip
    if feedback is None or feedback.empty:
        empty = {c: pd.Series([], dtype=object) for c in columns}
        empty["score"] = pd.Series([], dtype=np.int64)
        empty["timestamp"] = pd.Series([], dtype="datetime64[ns, UTC]")
        frame = pd.DataFrame(empty)
    else:
        frame = feedback.reindex(columns=columns)
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
        for name in ("comment", "channel", "touchpoint"):
            frame[name] = frame[name].astype("string").fillna("")
    stamps = frame["timestamp"]
    keep = np.ones(len(frame), dtype=bool)
    if since is not None:
        keep &= (stamps >= _utc(since, "since")).to_numpy()
    if until is not None:
        end = _utc(until, "until").normalize() + pd.Timedelta(days=1)
        keep &= (stamps < end).to_numpy()
    frame = frame[keep].reset_index(drop=True)
    codes, uniques = pd.factorize(frame["touchpoint"].astype(object))
    stages = np.asarray([journey.stage_of(str(t)) or "" for t in uniques], dtype=object)
    frame["stage"] = stages[codes] if len(frame) else pd.Series([], dtype=object)
    frame["tier"] = _tiers(frame["customer_id"], tables.get("customers"))
    return frame


def _utc(value: object, name: str) -> pd.Timestamp:
    """A date or instant as a UTC timestamp (naive ones are read as UTC)."""
    try:
        stamp = pd.Timestamp(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"{name} {value!r} is not a date", field=name) from None
    if stamp is pd.NaT:
        raise InvalidInput(f"{name} {value!r} is not a date", field=name)
    return stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")


def _tiers(customer_ids: pd.Series, customers: pd.DataFrame | None) -> np.ndarray:
    if customers is None or "loyalty_tier" not in customers.columns or customers.empty:
        return np.full(len(customer_ids), "", dtype=object)
    customers = customers.drop_duplicates("customer_id")
    codes, ids = pd.factorize(customer_ids)
    at = pd.Index(customers["customer_id"]).get_indexer(pd.Index(ids))
    tiers = customers["loyalty_tier"].astype("string").fillna("").to_numpy(dtype=object)
    known = np.where(at >= 0, tiers[np.maximum(at, 0)] if len(tiers) else "", "")
    return np.asarray(known, dtype=object)[codes] if len(codes) else np.array([], dtype=object)


def _voice(
    responses: pd.DataFrame, journey: Journey, out: Insights, notes: list[str]
) -> tuple[list[dict[str, Any]] | None, bytes | None]:
    """Themes, the sentiment model and the emotion curve (from insights.themes/sentiment/
    curve); returns the curve and the model's bytes, and adds the `themes` document."""
    from insights.curve import emotion_curve
    from insights.sentiment import score_comments, train_sentiment
    from insights.themes import find_themes

    commented = responses[responses["comment"] != ""]
    themes = find_themes(commented[list(TEXT_COLUMNS)])
    notes.extend(themes.notes)
    out.documents["themes"] = {"n_comments": themes.n_comments, "themes": themes.documents(),
                               "notes": list(themes.notes)}  # fmt: skip
    model = train_sentiment(commented)
    if model is None:
        notes.append("too few scored comments on either side to train the sentiment model")
    sentiment = np.full(len(responses), np.nan)
    sentiment[(responses["comment"] != "").to_numpy()] = score_comments(
        model, commented["comment"]
    ).to_numpy()
    curve = emotion_curve(responses.assign(sentiment=sentiment), journey.stages)
    return curve, (model.to_bytes() if model is not None else None)


def _summary(
    responses: pd.DataFrame,
    journey: Journey,
    period: str,
    min_n: int,
    notes: list[str],
    out: Insights,
) -> dict[str, Any]:
    touchpoints = responses["touchpoint"].astype(str)
    mapped = responses["stage"].astype(str) != ""
    unmapped = touchpoints[~mapped & (touchpoints != "")].value_counts()
    stamps = responses["timestamp"]
    return {
        "responses": len(responses),
        "by_survey": {k: int(v) for k, v in responses["survey"].astype(str).value_counts().items()},
        "customers": int(responses["customer_id"].nunique()),
        "comments": int((responses["comment"] != "").sum()),
        "since": stamps.min().date().isoformat() if len(stamps) else None,
        "until": stamps.max().date().isoformat() if len(stamps) else None,
        "stages": list(journey.stages),
        "unmapped_touchpoints": {str(k): int(v) for k, v in unmapped.items()},
        "no_touchpoint": int((touchpoints == "").sum()),
        "metrics": {
            m.name: {"survey": m.survey, "title": m.title, "unit": m.unit} for m in METRICS.values()
        },
        "period": period,
        "min_n": min_n,
        "documents": sorted([*out.documents, "summary"]),
        "notes": notes,
    }


__all__ = ["Insights", "PreparedResponses", "build_insights", "document_name", "records"]
