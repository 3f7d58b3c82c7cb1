"""`touchpoint recommend --engine spark`: batch campaign recommendations on Spark, the same
file and the same answers as the single-machine engine, by construction.

The customer list is distributed in the pandas engine's blocks (`jobs.recommend.BLOCK`
customers each); each block's events are joined to it on the executors (Spark's readers,
validated), and one pandas function per block (`cogroup…applyInPandas`) calls
`jobs.recommend.run_recommend` itself — the served path (`recsys.served`) — with what every
block must read alike broadcast: the model, the catalogue, the business rules, the segment
table, the time of the run and the popular lists. Its rows come back in block order and
Spark writes one file: the ordered rows are coalesced into one partition (one writer task)
and its part file renamed to `--output` — a CSV byte for byte what the pandas engine
writes (the blocks' CSV lines themselves), or a Parquet file of the same schema.

On the driver: the model (registry), the catalogue and the segment table (local files).
The popular lists are summed per partition of the events and ranked once (`spark.popular`):
no event reaches the driver.
"""

from __future__ import annotations

import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from contracts.errors import InvalidInput
from jobs.modelops import registry_for
from jobs.pipeline import SEGMENTS_FILE
from jobs.published_tables import item_records
from jobs.recommend import BLOCK, Shared, run_recommend
from jobs.recommend_output import HEADER
from jobs.recommend_people import CONSENTS
from recsys.business_rules import RuleBook
from spark.location import data_uri
from spark.popular import popular_on_spark
from spark.sources import read_table
from spark.tables import ROW, utc_times

POS, BLK, SEQ = "_pos", "_block", "_seq"
BLOCK_CONF = "spark.touchpoint.recommend.block"  # customers per task (default: the pandas block)
PEOPLE = ("loyalty_tier", *(f"consent_{c}" for c in CONSENTS))
POPULAR_READS = ("customer_id", "item_id", "type", "channel", "timestamp", "value")
LINES = f"{BLK} long, {SEQ} long, value string"
ROWS = f"{BLK} long, {SEQ} long, customer_id string, rank long, item_id string, score float"


def recommend_on_spark(
    spark: SparkSession,
    *,
    data: str,
    state: Path,
    customer_ids: list[str],
    output: str,
    book: RuleBook,
    options: dict[str, Any],
    version: str | None = None,
) -> dict[str, Any]:
    """Write the campaign file to `output` (a path or URI; `.parquet` for Parquet, else CSV)
    and return the pandas engine's summary. `options`: `run_recommend`'s keyword options
    (k, kind, channel, placement, include_consumed)."""
    root = data_uri(data)
    bundle = registry_for(state).load(version)
    events = read_table(spark, root, "events", required=True)
    items = _pandas(read_table(spark, root, "items", required=True).orderBy(ROW).drop(ROW))
    if not any(r.get("kind") == options["kind"] for r in item_records(items)):
        raise InvalidInput(f"the catalogue has no item of kind {options['kind']!r}: nothing "
                           "to recommend")  # fmt: skip
    path = state / SEGMENTS_FILE
    segments = pd.read_parquet(path) if path.is_file() else None
    popular = popular_on_spark(events.select(*POPULAR_READS), items, segments)
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    parquet = output.endswith(".parquet")
    shared = spark.sparkContext.broadcast(
        {
            "shared": Shared(bundle, popular, now),
            "items": items,
            "segments": segments,
            "book": book,
            "options": options,
            "parquet": parquet,
        }
    )

    def serve_block(listed: pd.DataFrame, block_events: pd.DataFrame) -> pd.DataFrame:
        return _serve_block(shared.value, listed, block_events)

    block = int(spark.conf.get(BLOCK_CONF) or BLOCK)
    customers = read_table(spark, root, "customers", required=False)
    listed, blocks = _listed(spark, customer_ids, customers, block)
    mine = events.join(blocks, "customer_id")
    served = (
        listed.groupBy(BLK)
        .cogroup(mine.groupBy(BLK))
        .applyInPandas(serve_block, ROWS if parquet else LINES)
    )
    if not parquet:  # the header, then every block's lines
        header = spark.createDataFrame([(-1, 0, ",".join(HEADER))], LINES)
        served = header.unionByName(served)
    _write_one_file(spark, served.orderBy(BLK, SEQ).drop(BLK, SEQ), output, parquet=parquet)
    rows = spark.read.parquet(output) if parquet else spark.read.text(output)
    return {
        "version": bundle.info.get("version"),
        "model": bundle.info.get("label", bundle.model.name),
        "rules": book.resolve(options.get("channel"), options.get("placement")).source,
        "customers": len(customer_ids),
        "known to model": int((bundle.customers.lookup(customer_ids) >= 0).sum()),
        "rows": rows.count() - (0 if parquet else 1),
    }


def _listed(
    spark: SparkSession, ids: list[str], customers: DataFrame, block: int
) -> tuple[DataFrame, DataFrame]:
    """The customer list with position, block and profile fields; and (customer, block)
    alone, a table of its own (the two sides of a cogroup may not share a lineage)."""
    pos = np.arange(len(ids), dtype=np.int64)
    frame = pd.DataFrame({"customer_id": ids, POS: pos, BLK: pos // block})
    people = customers.select("customer_id", *PEOPLE, F.lit(True).alias("_profiled"))
    listed = spark.createDataFrame(frame).join(people, "customer_id", "left")
    return listed, spark.createDataFrame(frame[["customer_id", BLK]])


def _serve_block(
    payload: dict[str, Any], listed: pd.DataFrame, block_events: pd.DataFrame
) -> pd.DataFrame:
    """One block served by `run_recommend` into a temporary file, read back in order."""
    listed = listed.sort_values(POS)
    ids = listed["customer_id"].astype(str).tolist()
    block = int(listed[BLK].iloc[0])
    profiled = listed[listed["_profiled"].fillna(False).astype(bool)]
    customers = profiled[["customer_id", *PEOPLE]].reset_index(drop=True)
    segments = payload["segments"]
    if segments is not None:
        segments = segments[segments["customer_id"].astype(str).isin(ids)]
    events = block_events.sort_values(ROW).drop(columns=[BLK, ROW]).reset_index(drop=True)
    events["timestamp"] = utc_times(events["timestamp"])
    tables = {"events": events, "items": payload["items"], "customers": customers}
    suffix = ".parquet" if payload["parquet"] else ".csv"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"block{suffix}"
        run_recommend(Path(tmp), tables, ids, path, book=payload["book"], segments=segments,
                      shared=payload["shared"], **payload["options"])  # fmt: skip
        if payload["parquet"]:
            rows = pd.read_parquet(path)
        else:
            rows = pd.DataFrame({"value": path.read_text(encoding="utf-8").splitlines()[1:]})
    rows.insert(0, SEQ, np.arange(len(rows), dtype=np.int64))
    rows.insert(0, BLK, block)
    return rows


def _pandas(frame: DataFrame) -> pd.DataFrame:
    """A Spark table as the pandas engine holds it: timestamps UTC-aware."""
    out = frame.toPandas()
    for name, kind in frame.dtypes:
        if kind == "timestamp":
            out[name] = utc_times(out[name])
    return out


def _write_one_file(spark: SparkSession, frame: DataFrame, output: str, *, parquet: bool) -> None:
    """The ordered rows as one file at `output`: one partition written to a temporary
    directory beside it, its part file renamed into place (the file appears whole)."""
    target = data_uri(output)
    parts = f"{target}.parts-{time.time_ns()}"
    one = frame.coalesce(1).write.mode("overwrite")
    if parquet:
        one.parquet(parts)
    else:
        one.text(parts)
    jvm: Any = spark.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path
    fs = path(parts).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
    listing = fs.listStatus(path(parts))
    written = [s.getPath() for s in listing if s.getPath().getName().startswith("part-")]
    if len(written) != 1:
        raise RuntimeError(f"expected one part file in {parts}, found {len(written)}")
    fs.delete(path(target), False)
    if not fs.rename(written[0], path(target)):
        raise InvalidInput(f"cannot write {output}: renaming {written[0]} failed")
    fs.delete(path(parts), True)
    target_path = path(target)
    checksum = path(target_path.getParent(), f".{target_path.getName()}.crc")
    if fs.exists(checksum):  # Hadoop's local file system moved its checksum file along
        fs.delete(checksum, False)
