"""The batch pipeline behind `touchpoint run`: segment → train → publish.

Each step is the same function its own command runs; this module only orders them and
decides what a failure means: a rejected model leaves the live serving version in place.
`publish_model` is also what `train`, `models activate` and `models rollback` call, so the
model the registry calls active is the model the API serves.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from contracts.errors import Conflict
from contracts.people import ANALYTICS, purposes_differ
from contracts.tables import load_table
from jobs.common import progress
from jobs.modelops import SPLITS, TrainResult, registry_for, run_train, saved_weights
from jobs.publish import Trained, build_bundle, publish_serving
from jobs.segmentation import run_segmentation, write_table
from recsys.business_rules import RuleBook
from recsys.errors import ModelRejected
from recsys.matrix import PRODUCT_RATINGS, build_interactions
from store.client import connect
from store.config import StoreConfig

if TYPE_CHECKING:
    from jobs.spark_engine import SparkRun

log = logging.getLogger("touchpoint.run")

SEGMENTS_FILE = "segments.parquet"  # the last segmentation, reused when only the model changes


class PipelineError(Conflict):
    """A step refused to go on; the previously published versions keep serving."""


def run_pipeline(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    as_of: str | None,
    budget_seconds: float,
    book: RuleBook,
    rules_file: Path | None = None,
    ratings: str = PRODUCT_RATINGS,
    spark: SparkRun | None = None,
) -> dict[str, Any]:
    """Segment, train (on the served list's validation metric) and publish; `book`: the
    business rules the API serves with, `rules_file`: the marketer's segment definitions;
    `spark`: segment, train and publish on Spark (`--engine spark`; insights stay pandas)."""
    summary: dict[str, Any] = {"engine": "spark" if spark else "pandas"}
    config = StoreConfig(data_dir=data)
    engine = None
    if spark is not None:
        from jobs.spark_engine import spark_segmenter  # pyspark only when asked for

        engine = spark_segmenter(str(data), master=spark.master, conf=spark.conf)
    with progress() as bar:
        task = bar.add_task("segment", total=3)
        segmented, seg_summary = run_segmentation(
            tables=tables, as_of=as_of, rules_file=rules_file, config=config,
            engine=engine,
        )  # fmt: skip
        write_table(segmented.table, Path(data) / SEGMENTS_FILE)
        summary["segmented customers"] = seg_summary["customers"]
        summary["segments version"] = seg_summary["version"]
        summary["segment seconds"] = round(
            seg_summary["segment_seconds"] + seg_summary["publish_seconds"], 1
        )
        summary.update(insights_step(data, tables, segmented.table))
        bar.update(task, advance=1, description="train")

        t1 = time.monotonic()
        try:
            result = train_step(data, tables, budget_seconds=budget_seconds, ratings=ratings,
                                book=book, spark=spark)  # fmt: skip
        except ModelRejected as exc:
            raise PipelineError(f"model rejected, previous version stays live: {exc}") from exc
        summary["model"] = f"{result.name} ({result.version})"
        summary["consumed by"] = result.consumption.describe()
        summary["train seconds"] = round(time.monotonic() - t1, 1)
        bar.update(task, advance=1, description="publish")

        t2 = time.monotonic()
        trained = Trained(result.model, result.interactions, result.name, result.version)
        summary["serving version"] = publish_trained(
            data, tables, trained, segmented.table, book, spark=spark
        )
        summary["publish seconds"] = round(time.monotonic() - t2, 1)
        bar.update(task, advance=1, description="done")
    return summary


def train_step(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    budget_seconds: float,
    ratings: str,
    book: RuleBook,
    spark: SparkRun | None,
) -> TrainResult:
    """Model selection on one machine, or MLlib ALS against popularity on Spark (the
    budget does not apply there); either refuses a model worse than popularity."""
    if spark is None:
        return run_train(data, tables, budget_seconds=budget_seconds, ratings=ratings, book=book)
    from jobs.spark_engine import spark_train

    trained, _counts = spark_train(str(data), Path(data), master=spark.master, conf=spark.conf,
                                   split=SPLITS[0], test_fraction=0.2, ratings=ratings,
                                   book=book)  # fmt: skip
    return trained


def insights_step(
    data: Path, tables: dict[str, pd.DataFrame], segments: pd.DataFrame
) -> dict[str, Any]:
    """The insights step; its failure is reported and never blocks the recommendations
    (the previous insights version stays live)."""
    started = time.monotonic()
    try:
        from jobs.insights import run_insights  # pandas/scikit-learn work only when run

        if purposes_differ(data):  # insights read whoever allowed analytics (`contracts.people`)
            tables = {**tables, **{name: load_table(data, name, required=False, purpose=ANALYTICS)
                                   for name in ("events", "feedback")}}  # fmt: skip
        run = run_insights(data, tables, segments=segments)
    except Exception as exc:  # any failure: reported, the run goes on
        log.exception("insights step failed; the previous insights stay live")
        return {"insights": f"failed, previous version stays live: {exc}"}
    return {"insights version": run.summary.get("insights version", "-"),
            "insights seconds": round(time.monotonic() - started, 1)}  # fmt: skip


def publish_trained(
    data: Path,
    tables: dict[str, pd.DataFrame],
    trained: Trained,
    segments: pd.DataFrame | None,
    book: RuleBook,
    *,
    spark: SparkRun | None = None,
) -> str:
    """Publish a fitted model for serving as a new version (atomic switch); with `spark`,
    the executors write the per-customer keys (`jobs.spark_publish`)."""
    if spark is not None:
        from jobs.spark_engine import spark_publish

        return spark_publish(data, tables, trained, segments, book, run=spark)
    bundle = build_bundle(
        tables=tables, trained=trained, segments=segments, rules=book.resolve(None)
    )
    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        return publish_serving(
            client, config, bundle, meta={"model": trained.name, "model_version": trained.version}
        )


def publish_model(
    data: Path, tables: dict[str, pd.DataFrame], book: RuleBook, version: str | None = None
) -> str:
    """Publish a registry version (default: the active one) with the latest segments."""
    registry = registry_for(data)
    version = version or registry.active()
    saved = registry.load(version)
    interactions = build_interactions(
        tables["events"],
        config=saved_weights(saved),
        customer_ids=saved.customers.to_array(),
        item_ids=saved.items.to_array(),
        drop_unknown=True,
    )
    trained = Trained(saved.model, interactions, saved.model.name, str(version))
    path = Path(data) / SEGMENTS_FILE
    segments = pd.read_parquet(path) if path.is_file() else None
    return publish_trained(data, tables, trained, segments, book)
