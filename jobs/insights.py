"""The insights job: load → journey map → `build_insights` → write → publish.

Thin on purpose: the statistics, drivers, themes and sentiment live in `insights/`, the Redis
layout in `store.insights`. A malformed journey map raises before anything is computed
(`JourneyError`, exit 2), and a failure anywhere leaves the previous insights live: the
version switch is the last step.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from contracts.errors import InvalidInput
from insights.build import Insights, build_insights, document_name
from insights.journey import JOURNEY_FILE, JourneyMap, default_journey, load_journey
from jobs.common import BUSINESS_RULES_DIR_ENV, OLD_RULES_DIR_ENV
from store.client import connect
from store.config import StoreConfig
from store.insights import encode, publish_insights

OUTPUT_FORMATS = (".csv", ".parquet", ".json")
SEGMENTS_FILE = "segments.parquet"  # written by `touchpoint segment --output` / `run`
Step = Callable[[str], None]


@dataclass
class InsightsRun:
    insights: Insights
    journey: JourneyMap
    documents: dict[str, Any]
    summary: dict[str, Any]


def journey_path() -> Path:
    """`journey.yaml` in the business rules directory ($TOUCHPOINT_BUSINESS_RULES_DIR, else
    ./rules), beside the rules the API serves with."""
    found = os.environ.get(BUSINESS_RULES_DIR_ENV) or os.environ.get(OLD_RULES_DIR_ENV)
    return Path(found or "rules") / JOURNEY_FILE


def read_journey(path: Path | None) -> tuple[JourneyMap, str]:
    """The map at `path` (or the default place); no file there: the three default stages
    and a note (every touchpoint then shows as unmapped)."""
    chosen = path or journey_path()
    if path is None and not chosen.is_file():
        return default_journey(), f"no journey map at {chosen}: default stages, no touchpoints"
    return load_journey(chosen), str(chosen)


def memberships_of(segments: pd.DataFrame | None) -> pd.DataFrame | None:
    """The per-customer segment table (`segments`: `;`-joined names) → one row per
    (customer_id, segment)."""
    if segments is None or "segments" not in segments:
        return None
    names = segments["segments"].astype(object).fillna("").astype(str).str.split(";")
    long = pd.DataFrame({"customer_id": segments["customer_id"].astype(str), "segment": names})
    long = long.explode("segment")
    return long[long["segment"] != ""].reset_index(drop=True)


def saved_segments(data: Path) -> pd.DataFrame | None:
    path = Path(data) / SEGMENTS_FILE
    return pd.read_parquet(path, columns=["customer_id", "segments"]) if path.is_file() else None


def journey_document(journey: JourneyMap, events: pd.DataFrame | None) -> dict[str, Any]:
    """The map (stages, each touchpoint's stage and channel) and how many events happened
    at each touchpoint, given or derived from (channel, type): behaviour beside feedback."""
    doc = journey.as_dict()
    if events is not None and len(events):
        counts = journey.touchpoints_of(events).value_counts()
        doc["event_counts"] = {str(k): int(v) for k, v in counts.items() if str(k)}
        doc["events_without_touchpoint"] = int(counts.get("", 0))
    return doc


def run_insights(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    journey_file: Path | None = None,
    segments: pd.DataFrame | None = None,
    since: str | None = None,
    until: str | None = None,
    by: Sequence[str] = ("touchpoint", "stage", "channel", "segment", "tier"),
    period: str = "week",
    min_n: int = 30,
    output: Path | None = None,
    publish: bool = True,
    step: Step = lambda _name: None,
) -> InsightsRun:
    """Build every insights document, write `output`, publish a new version."""
    if output is not None and output.suffix.lower() not in OUTPUT_FORMATS:
        raise InvalidInput(f"--output {output}: use a .csv, .parquet or .json file name")
    started = time.monotonic()
    step("journey map")
    journey, source = read_journey(journey_file)
    memberships = memberships_of(segments if segments is not None else saved_segments(data))
    step("insights")
    built = build_insights(
        tables, journey=journey, memberships=memberships, since=since, until=until,
        by=tuple(by), period=period, min_n=min_n,
    )  # fmt: skip
    documents = {**built.documents, "journey_map": journey_document(journey, tables.get("events"))}
    summary: dict[str, Any] = {"journey map": source, "documents": len(documents),
                               "build seconds": round(time.monotonic() - started, 1)}  # fmt: skip
    if output is not None:
        step("write")
        write_output(built, documents, output)
        summary["output"] = str(output)
    if publish:
        step("publish")
        t0 = time.monotonic()
        config = StoreConfig(data_dir=data)
        meta = {"since": since, "until": until, "period": period, "min_n": min_n}
        with connect(config) as client:
            summary["insights version"] = publish_insights(
                client, config, documents, sentiment_model=built.sentiment_model, meta=meta
            )
        summary["publish seconds"] = round(time.monotonic() - t0, 1)
    return InsightsRun(built, journey, documents, summary)


def write_output(built: Insights, documents: dict[str, Any], output: Path) -> None:
    """`.json`: every document; `.csv`/`.parquet`: every score table stacked, one row per
    cell, with `table` naming the document it comes from. Written to a temporary name,
    then renamed into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.tmp")
    suffix = output.suffix.lower()
    try:
        if suffix == ".json":
            partial.write_bytes(encode(documents))
        else:
            frames = [t.assign(table=name) for name, t in built.tables.items() if len(t)]
            stacked = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
            text = [c for c in stacked.columns if stacked[c].dtype == object]
            stacked = stacked.astype(dict.fromkeys(text, str))
            if suffix == ".parquet":
                stacked.to_parquet(partial, index=False)
            else:
                stacked.to_csv(partial, index=False)
        partial.replace(output)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise InvalidInput(f"cannot write {output}: {exc}") from None


def headline(documents: dict[str, Any], by: str) -> list[dict[str, Any]]:
    """The rows the CLI prints: per `by` cell, NPS, CSAT and CES with intervals and n."""
    out: dict[str, dict[str, Any]] = {}
    for metric in ("nps", "csat", "ces"):
        for row in _rows(documents.get(document_name(metric, [by], None))):
            cell = out.setdefault(str(row.get(by, "")), {by: row.get(by, "")})
            cell[metric] = row
    return list(out.values())


def _rows(doc: Any) -> list[dict[str, Any]]:
    if isinstance(doc, dict):
        doc = doc.get("rows", [])
    return [r for r in doc if isinstance(r, dict)] if isinstance(doc, list) else []


def as_json(documents: dict[str, Any]) -> Any:
    return orjson.loads(encode(documents))
