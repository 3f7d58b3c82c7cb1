"""`touchpoint recommend`: batch recommendations for a campaign, as the API would serve them."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from contracts.errors import InvalidInput
from contracts.schema import CHANNELS, ITEM_KINDS
from contracts.tables import load_table
from contracts.tombstones import unerased
from jobs.common import (
    DataLocation,
    EngineOpt,
    JsonFlag,
    LocalDirOpt,
    SparkConfOpt,
    SparkMasterOpt,
    business_rules,
    engine_choice,
    local_state,
    pandas_data,
    progress,
    report,
    setup_logging,
)
from jobs.pipeline import SEGMENTS_FILE
from jobs.recommend import read_customer_ids, run_recommend

log = logging.getLogger("touchpoint.recommend")


def recommend_command(
    customers: Annotated[Path, typer.Option("--customers", help="File: one customer id per line.")],
    output: Annotated[
        str, typer.Option("--output", help="CSV (or .parquet) to write; a URI with --engine spark.")
    ],
    data: DataLocation = "data",
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="Items per customer.")] = 10,
    kind: Annotated[str, typer.Option("--kind", help="product or content.")] = "product",
    channel: Annotated[
        str | None, typer.Option("--channel", help="Serve as on this channel (its rules).")
    ] = None,
    placement: Annotated[
        str | None,
        typer.Option("--placement", help="And this placement (<channel>.<placement>.yaml)."),
    ] = None,
    include_consumed: Annotated[
        bool,
        typer.Option("--include-consumed", help="Let what customers already have come back."),
    ] = False,
    include_purchased: Annotated[
        bool, typer.Option("--include-purchased", hidden=True, help="Old name.")
    ] = False,
    version: Annotated[str | None, typer.Option("--version", help="Default: active.")] = None,
    as_json: JsonFlag = False,
    engine: EngineOpt = "pandas",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    local: LocalDirOpt = None,
) -> None:
    """Batch recommendations for a campaign: customer_id, rank, item_id, score — the lists
    the API would answer (same published lists, rules and exclusions)."""
    setup_logging()
    started = time.monotonic()
    if kind not in ("product", "content"):
        allowed = [k for k in ITEM_KINDS if k in ("product", "content")]
        raise InvalidInput(f"--kind must be one of {', '.join(allowed)}, not {kind!r} (offers and "
                           "rewards are ranked by value per request: use the API)")  # fmt: skip
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"--channel must be one of {', '.join(CHANNELS)}, not {channel!r}")
    if placement is not None and channel is None:
        raise InvalidInput("--placement needs --channel")
    if include_purchased:
        log.warning("--include-purchased is deprecated; use --include-consumed")
    book = business_rules()
    if engine_choice(engine) == "spark":  # the blocks served on executors, one file written
        from jobs.spark_engine import spark_recommend

        ids = read_customer_ids(customers)
        options = {"k": k, "kind": kind, "channel": channel, "placement": placement,
                   "include_consumed": include_consumed or include_purchased}  # fmt: skip
        summary = spark_recommend(data, local_state(data, local), ids, output, book=book,
                                  options=options, version=version, master=spark_master,
                                  conf=spark_conf or [])  # fmt: skip
        summary |= {"output": output, "engine": engine,
                    "seconds": round(time.monotonic() - started, 1)}  # fmt: skip
        report("touchpoint recommend", summary, as_json=as_json)
        return
    local_data, local_output = pandas_data(data), pandas_data(output)
    try:
        ids = unerased(read_customer_ids(customers), data)  # erased customers: never listed
        tables = {
            "events": load_table(local_data, "events"),
            "items": load_table(local_data, "items"),
            "customers": load_table(local_data, "customers", required=False),
        }
        path = local_data / SEGMENTS_FILE
        segments = pd.read_parquet(path) if path.is_file() else None
        with progress() as bar:
            task = bar.add_task(f"serving {len(ids):,} customers", total=len(ids))
            summary = run_recommend(
                local_data, tables, ids, local_output, book=book, k=k, kind=kind, channel=channel,
                placement=placement, include_consumed=include_consumed or include_purchased,
                version=version, segments=segments,
                on_block=lambda n: bar.update(task, advance=n),
            )  # fmt: skip
    except OSError as exc:
        raise InvalidInput(f"cannot write {output}: {exc.strerror or exc}") from None
    summary |= {"output": str(output), "seconds": round(time.monotonic() - started, 1)}
    report("touchpoint recommend", summary, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_command)
