"""Build every segment family for every customer, the segment catalogue, and deltas.

`build_segments` returns one row per customer (features, scores, family labels and the
`;`-separated list of segment names the customer is in), the catalogue (name, family,
title, description, rule, size) and the member ids of each segment. Segment names are
URL-safe slugs with their family as prefix (`rfm-champions`, `lifecycle-new`,
`cluster-0`, `nps-promoter`, `csat-unhappy`, `ces-high-effort`); rule segments keep the
name the marketer gave them, which must not clash with a built-in one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from segments.clusters import ClusterResult, cluster_customers
from segments.definitions import RuleSegment, evaluate_rules
from segments.errors import SegmentRuleError
from segments.features import compute_features, resolve_as_of
from segments.feedback import NPS_GROUPS, score_feedback
from segments.lifecycle import STAGE_DESCRIPTIONS, STAGES, LifecycleConfig, assign_lifecycle
from segments.rfm import RFM_DESCRIPTIONS, RFM_SEGMENTS, score_rfm

STRING = pd.StringDtype("pyarrow")
LEAD_COLUMNS = (
    "customer_id", "recency_days", "frequency", "monetary", "r_score", "f_score", "m_score",
    "rfm_segment", "lifecycle_stage", "cluster", "cluster_description", "nps_group",
    "csat_unhappy", "ces_high_effort", "segments",
)  # fmt: skip
FEEDBACK_TEXT = {
    "nps-promoter": "latest NPS 9-10",
    "nps-passive": "latest NPS 7-8",
    "nps-detractor": "latest NPS 0-6",
    "csat-unhappy": "latest CSAT 1-2: service recovery",
    "ces-high-effort": "latest CES 1-3 of 7 (hard: high effort): service recovery",
}


def slug(family: str, title: str) -> str:
    return f"{family}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


@dataclass(frozen=True)
class SegmentBuild:
    """The result of one segmentation run."""

    table: pd.DataFrame
    catalogue: pd.DataFrame
    members: dict[str, np.ndarray]  # segment name -> customer ids, in table order
    as_of: pd.Timestamp
    clusters: ClusterResult


@dataclass(frozen=True)
class SegmentDelta:
    entered: np.ndarray
    exited: np.ndarray


def build_segments(
    *,
    customers: pd.DataFrame,
    events: pd.DataFrame,
    items: pd.DataFrame | None,
    feedback: pd.DataFrame | None,
    as_of: object = None,
    rules: Sequence[RuleSegment] | None = None,
    lifecycle: LifecycleConfig | None = None,
    seed: int = 7,
) -> SegmentBuild:
    """Features → RFM, lifecycle, clusters, feedback, rules → per-customer table + catalogue."""
    cutoff = resolve_as_of(events, as_of)
    features = compute_features(
        customers=customers, events=events, items=items, feedback=feedback, as_of=cutoff
    )
    scored = pd.concat([features, score_rfm(features), score_feedback(features)], axis=1)
    scored["lifecycle_stage"] = assign_lifecycle(features, as_of=cutoff, config=lifecycle)
    result = cluster_customers(features, seed=seed)
    scored["cluster"] = result.labels
    texts = np.asarray([result.descriptions.get(int(c), "") for c in range(-1, result.k)], object)
    scored["cluster_description"] = pd.Series(texts[result.labels + 1], dtype=STRING)

    ids = scored["customer_id"].to_numpy(dtype=object)
    masks: dict[str, np.ndarray] = {}
    rows: list[dict[str, object]] = []

    def add(spec: SegmentSpec, mask: np.ndarray) -> None:
        masks[spec.name] = mask
        rows.append({**spec.catalogue_row(), "size": int(mask.sum())})

    for spec in builtin_segments(result.descriptions):
        add(spec, _equals(scored[spec.column], spec.value))
    for rule in rules or ():
        if rule.name in masks:
            raise SegmentRuleError(rule.name, "name clashes with a built-in segment; pick another")
    for name, mask in evaluate_rules(list(rules or ()), scored).items():
        rule = next(r for r in rules or () if r.name == name)
        add(rule_segment(rule), mask)

    scored["segments"] = pd.Series(_join_names(masks, len(scored)), dtype=STRING)
    lead = [c for c in LEAD_COLUMNS if c in scored.columns]
    table = scored[lead + [c for c in scored.columns if c not in lead]]
    members = {name: ids[mask] for name, mask in masks.items()}
    return SegmentBuild(table, pd.DataFrame(rows), members, cutoff, result)


@dataclass(frozen=True)
class SegmentSpec:
    """One catalogue entry: a built-in segment is `column == value` on the per-customer
    table (both engines test exactly that); a rule segment carries its rule instead."""

    name: str
    family: str
    title: str
    description: str
    column: str = ""
    value: str | int | bool = ""
    rule: str = ""

    def catalogue_row(self) -> dict[str, object]:
        return {"name": self.name, "family": self.family, "title": self.title,
                "description": self.description, "rule": self.rule}  # fmt: skip


def builtin_segments(cluster_descriptions: Mapping[int, str]) -> list[SegmentSpec]:
    """The built-in segments in catalogue order: RFM, lifecycle, clusters, feedback."""
    specs = [SegmentSpec(slug("rfm", t), "rfm", t, RFM_DESCRIPTIONS[t], "rfm_segment", t)
             for t in RFM_SEGMENTS]  # fmt: skip
    specs += [
        SegmentSpec(
            slug("lifecycle", t), "lifecycle", t, STAGE_DESCRIPTIONS[t], "lifecycle_stage", t
        )
        for t in STAGES
    ]
    specs += [
        SegmentSpec(f"cluster-{c}", "cluster", f"Cluster {c}", text, "cluster", int(c))
        for c, text in sorted(cluster_descriptions.items())
    ]
    specs += [
        SegmentSpec(slug("nps", t), "feedback", f"NPS {t}s", FEEDBACK_TEXT[slug("nps", t)],
                    "nps_group", t)
        for t in NPS_GROUPS
    ]  # fmt: skip
    for name, title, column in (
        ("csat-unhappy", "Unhappy CSAT", "csat_unhappy"),
        ("ces-high-effort", "High-effort CES", "ces_high_effort"),
    ):
        specs.append(SegmentSpec(name, "feedback", title, FEEDBACK_TEXT[name], column, True))
    return specs


def rule_segment(rule: RuleSegment) -> SegmentSpec:
    return SegmentSpec(rule.name, "rule", rule.name, rule.description, rule=rule.expression)


def _equals(column: pd.Series, value: str | int | bool) -> np.ndarray:
    if isinstance(value, bool):
        return column.to_numpy(bool, na_value=False) == value
    if isinstance(value, int):
        return column.to_numpy(np.int64) == value
    return column.to_numpy(dtype=object, na_value="") == value


def _join_names(masks: Mapping[str, np.ndarray], n: int) -> np.ndarray:
    """Per customer, the `;`-joined names of the segments whose mask holds (catalogue order)."""
    joined = np.full(n, "", dtype=object)
    for name, mask in masks.items():
        if not mask.any():
            continue
        current = joined[mask]
        joined[mask] = np.where(current == "", name, current + ";" + name)
    return joined


def segment_deltas(
    previous: Mapping[str, Sequence[str] | np.ndarray],
    current: Mapping[str, Sequence[str] | np.ndarray],
) -> dict[str, SegmentDelta]:
    """Who entered and who exited each segment between two membership snapshots; a segment
    missing on one side counts as empty there. Ids come out sorted.

    Every id of both snapshots is hashed once (one `pd.factorize`), then each segment is a
    pair of boolean masks over those codes, so 28 segments of 1M members stay cheap."""
    names = [*current, *(n for n in previous if n not in current)]
    parts = [np.asarray(previous.get(n, ()), dtype=object) for n in names]
    parts += [np.asarray(current.get(n, ()), dtype=object) for n in names]
    everything = np.concatenate(parts) if parts else np.zeros(0, dtype=object)
    codes, uniques = pd.factorize(everything)
    uniques = np.asarray(uniques, dtype=object)
    bounds = np.cumsum([0, *(len(p) for p in parts)])
    out: dict[str, SegmentDelta] = {}
    for i, name in enumerate(names):
        before = np.zeros(len(uniques), dtype=bool)
        after = np.zeros(len(uniques), dtype=bool)
        before[codes[bounds[i] : bounds[i + 1]]] = True
        j = len(names) + i
        after[codes[bounds[j] : bounds[j + 1]]] = True
        out[name] = SegmentDelta(entered=np.sort(uniques[after & ~before]),
                                 exited=np.sort(uniques[before & ~after]))  # fmt: skip
    return out
