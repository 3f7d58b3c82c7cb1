"""`touchpoint segment --engine spark`: every segment family on Spark, from the definitions
in `segments/` (RFM grid, lifecycle thresholds and stage rules, NPS bands, the built-in
catalogue, the marketer's rule language), returning the same `SegmentBuild` as the
pandas engine so writing the table and publishing stay one code path.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from contracts.schema import NPS_BANDS, SURVEY_BANDS
from segments.build import (
    LEAD_COLUMNS,
    SegmentBuild,
    SegmentSpec,
    builtin_segments,
    rule_segment,
)
from segments.clusters import ClusterResult
from segments.definitions import RuleSegment
from segments.errors import SegmentRuleError
from segments.features import resolve_as_of
from segments.feedback import NPS_GROUPS
from segments.lifecycle import DEFAULT_STAGE, THRESHOLDS, LifecycleConfig, stage_rules
from spark.clusters import cluster_customers
from spark.features import DAY_US, ORDER, compute_features, micros
from spark.rfm import score_rfm
from spark.rules import column, compile_rule

STRING = pd.StringDtype("pyarrow")
MASK = "_in."  # prefix of the per-segment membership columns gathered with the table


def build_segments(
    *,
    tables: dict[str, DataFrame],
    as_of: object = None,
    rules: Sequence[RuleSegment] | None = None,
    lifecycle: LifecycleConfig | None = None,
    seed: int = 7,
    k_range: tuple[int, int] = (2, 8),
) -> SegmentBuild:
    """Features → RFM, lifecycle, clusters, feedback, rules on Spark; the per-customer table
    and memberships come back to the driver in the pandas engine's row order."""
    events = tables["events"]
    if as_of is None:
        latest = events.agg(F.max("timestamp")).first()[0]  # type: ignore[index]
        as_of = None if latest is None else pd.Timestamp(latest, tz="UTC")
    cutoff = resolve_as_of(events.limit(0).toPandas(), as_of)
    features = compute_features(
        customers=tables["customers"],
        events=events,
        items=tables.get("items"),
        feedback=tables.get("feedback"),
        as_of=cutoff,
    ).cache()
    feature_columns = [c for c in features.columns if c != ORDER]
    scored = score_rfm(features)
    scored = scored.select("*", *feedback_groups())
    scored = with_lifecycle(scored, cutoff, lifecycle)
    clusters = cluster_customers(features, seed=seed, k_range=k_range)
    texts = (
        F.create_map(*[F.lit(x) for c, t in clusters.descriptions.items() for x in (c, t)])
        if clusters.descriptions
        else F.create_map(F.lit(-2), F.lit(""))
    )
    scored = (
        scored.join(clusters.labelled, "customer_id", "left")
        .withColumn("cluster", F.coalesce(F.col("cluster"), F.lit(-1)).cast("long"))
        .withColumn("cluster_description", F.coalesce(texts[F.col("cluster")], F.lit("")))
    )

    specs = builtin_segments(clusters.descriptions)
    builtin = {s.name for s in specs}
    for rule in rules or ():
        if rule.name in builtin:
            raise SegmentRuleError(rule.name, "name clashes with a built-in segment; pick another")
    masks: list[tuple[SegmentSpec, Column]] = [
        (s, column(s.column) == F.lit(s.value)) for s in specs
    ]
    masks += [(rule_segment(r), compile_rule(r, scored)) for r in rules or ()]
    names = F.concat_ws(";", *[F.when(m, F.lit(s.name)) for s, m in masks])
    scored = scored.select(
        "*", *[F.coalesce(m, F.lit(False)).alias(MASK + s.name) for s, m in masks]
    )
    scored = scored.withColumn("segments", names)

    order = [
        *feature_columns,
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "nps_group",
        "csat_unhappy",
        "ces_high_effort",
        "lifecycle_stage",
        "cluster",
        "cluster_description",
        "segments",
    ]
    lead = [c for c in LEAD_COLUMNS if c in order]
    columns = lead + [c for c in order if c not in lead]
    gathered = (
        scored.orderBy(ORDER)
        .select(*[column(c) for c in columns], *[column(MASK + s.name) for s, _ in masks])
        .toPandas()
    )
    features.unpersist()
    table = canonical(gathered[columns])
    ids = table["customer_id"].to_numpy(dtype=object)
    members = {s.name: ids[gathered[MASK + s.name].to_numpy(bool)] for s, _ in masks}
    catalogue = pd.DataFrame(
        [{**s.catalogue_row(), "size": len(members[s.name])} for s, _ in masks]
    )
    labels = table["cluster"].to_numpy()
    result = ClusterResult(labels, clusters.descriptions, clusters.k, clusters.silhouette)
    return SegmentBuild(table, catalogue, members, cutoff, result)


def feedback_groups() -> list[Column]:
    """nps_group, csat_unhappy and ces_high_effort from the contract's bands (`NPS_BANDS`,
    `SURVEY_BANDS`), as `segments.feedback` reads them."""
    nps = F.lit("")
    for group in NPS_GROUPS:
        low, high = NPS_BANDS[group]
        nps = F.when(F.col("nps_latest").between(low, high), F.lit(group)).otherwise(nps)
    return [
        nps.alias("nps_group"),
        _unhappy("csat").alias("csat_unhappy"),
        _unhappy("ces").alias("ces_high_effort"),
    ]


def _unhappy(survey: str) -> Column:
    low, high = SURVEY_BANDS[survey][0]
    return F.coalesce(F.col(f"{survey}_latest").between(low, high), F.lit(False))


def with_lifecycle(
    scored: DataFrame, as_of: pd.Timestamp, config: LifecycleConfig | None
) -> DataFrame:
    """`lifecycle_stage` from the stage rules of `segments.lifecycle`, compiled over the
    threshold columns (added, then dropped); the first rule that holds wins."""
    cfg = config or LifecycleConfig()
    frame = scored
    for name, interval, factor, floor, default in THRESHOLDS:
        gap = F.col(interval)
        value = F.when(gap.isNull(), F.lit(getattr(cfg, default))).otherwise(
            F.greatest(F.lit(getattr(cfg, floor)), F.lit(getattr(cfg, factor)) * gap)
        )
        frame = frame.withColumn(name, value)
    since = (F.lit(as_of.value // 1000) - micros("first_purchase_at")) / F.lit(float(DAY_US))
    frame = frame.withColumn("days_since_first_purchase", since)
    stage = F.lit(DEFAULT_STAGE)
    for rule in reversed(stage_rules(cfg)):
        stage = F.when(compile_rule(rule, frame), F.lit(rule.name)).otherwise(stage)
    helpers = [t[0] for t in THRESHOLDS] + ["days_since_first_purchase"]
    return frame.withColumn("lifecycle_stage", stage).drop(*helpers)


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """The pandas engine's dtypes: text as pyarrow strings, timestamps UTC nanoseconds."""
    out = frame.copy()
    for name in out.columns:
        if out[name].dtype == object or pd.api.types.is_string_dtype(out[name].dtype):
            out[name] = out[name].astype(STRING)
        elif pd.api.types.is_datetime64_any_dtype(out[name].dtype):
            series = out[name]
            series = series.dt.tz_localize("UTC") if series.dt.tz is None else series
            out[name] = series.astype("datetime64[ns, UTC]")
    return out
