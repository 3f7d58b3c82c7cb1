"""`touchpoint segment`: segment every customer, write the table, publish memberships."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from redis.exceptions import RedisError

from contracts.errors import InvalidInput, Unavailable
from contracts.tables import load_tables
from jobs.common import (
    AsOfOpt,
    DataLocation,
    EngineOpt,
    JsonFlag,
    LocalDirOpt,
    OldSegmentDefinitionsOpt,
    SegmentDefinitionsOpt,
    SparkConfOpt,
    SparkMasterOpt,
    engine_choice,
    local_state,
    pandas_data,
    progress,
    report,
    segment_definitions,
    setup_logging,
)
from jobs.segmentation import run_segmentation
from store.config import StoreConfig


def segment(
    data: DataLocation = "data",
    as_of: AsOfOpt = None,
    definitions: SegmentDefinitionsOpt = None,
    rules: OldSegmentDefinitionsOpt = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write the per-customer table (.parquet or .csv).", dir_okay=False
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Publish memberships to Redis.")
    ] = True,
    as_json: JsonFlag = False,
    engine: EngineOpt = "pandas",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    local: LocalDirOpt = None,
) -> None:
    """Segment customers (RFM, lifecycle, clusters, feedback, rules) and publish a version."""
    setup_logging()
    started = time.monotonic()
    with progress() as bar:
        task = bar.add_task("load", total=None)
        config = StoreConfig(data_dir=local_state(data, local)) if publish else None
        on_spark, tables = None, {}
        if engine_choice(engine) == "spark":  # Spark reads and validates the tables itself
            from jobs.spark_engine import spark_segmenter

            on_spark = spark_segmenter(data, master=spark_master, conf=spark_conf or [])
        else:
            tables = load_tables(pandas_data(data))
        try:
            _build, summary = run_segmentation(
                tables=tables, as_of=as_of, output=output,
                rules_file=segment_definitions(definitions, rules),
                config=config, publish=publish,
                step=lambda name: bar.update(task, description=name), engine=on_spark,
            )  # fmt: skip
        except OSError as exc:
            raise InvalidInput(f"cannot write {output}: {exc}") from None
        except RedisError as exc:
            raise Unavailable(f"Redis: {exc}; nothing was switched") from None
    summary["engine"] = engine
    summary["seconds"] = round(time.monotonic() - started, 1)
    report("touchpoint segment", summary, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
