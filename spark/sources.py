"""The data directory's tables read by Spark's own readers, from a path or a URI Spark reads
(`file://`, `hdfs://`, `s3a://`), validated as `contracts.tables` validates them.

A table is `<name>.parquet` or `<name>.csv` (a file; a `.parquet` may also be a Parquet
dataset directory), plus a partitioned Parquet dataset `<name>/` — what `touchpoint ingest`
writes (`<name>/part-….parquet`), or Hive-style `<name>/date=…/…` partitions, whose
partition columns are kept as extra columns. CSV is read with a header, RFC 4180 quotes.

Validation: every source is checked in one pass (`spark.checks`) before a DataFrame is
returned; the first bad row in input order raises one `DataError` naming file, row and
column, so nothing is half-imported. Costs: that pass, plus one to number a CSV file's rows;
the tables are read again by the job that uses them (nothing is cached: at a billion events
a second scan is cheaper than holding them). Not checked, unlike the pandas engine: that a
CSV file is UTF-8 (Spark's reader replaces bad bytes).

`_row` keeps input order as the pandas engine's: the base file first, then the dataset's
files sorted by path (as `contracts.tables.table_files` lists them), rows in file order —
`file rank * 2**36 + row in file` (a file's Parquet row index; a CSV file's row number from
its splits, which Spark reads in offset order). For one file it equals the pandas `_row`.
Duplicate ids: an error for customers and items; events and feedback keep the first.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from contracts.errors import DataError, InvalidInput
from contracts.schema import TABLES, Table
from contracts.tables import empty_frame
from spark.checks import Check, canonical, first_failure
from spark.location import data_uri
from spark.tables import ROW, to_spark

FILE, LINE, BAD, CORRUPT = "_file", "_line", "_bad", "_corrupt"
FILE_BITS = 36  # rows per file below 2**36; file ranks below 2**27
REQUIRED = ("events", "items")
S3A_HINT = (
    "s3a:// needs hadoop-aws on Spark's classpath: --conf spark.jars.packages="
    "org.apache.hadoop:hadoop-aws:<Spark's Hadoop version> (downloads it) or a jar in "
    "$SPARK_HOME/jars"
)


def spark_tables(spark: SparkSession, data: str | Path) -> dict[str, DataFrame]:
    """The four tables (customers, items, events, feedback), validated; `events` and
    `items` are required, an absent optional table is empty."""
    root = data_uri(data)
    return {name: read_table(spark, root, name, required=name in REQUIRED)
            for name in ("customers", "items", "events", "feedback")}  # fmt: skip


def read_table(spark: SparkSession, root: str, name: str, *, required: bool) -> DataFrame:
    table = TABLES[name]
    sources = _sources(spark, root, name)
    if not sources:
        if required:
            raise DataError(f"{root}/{name}.csv", None, None, "file not found")
        return to_spark(spark, {name: empty_frame(table)})[name]
    frames: list[DataFrame] = []
    rank = 0
    for uri, kind in sources:
        raw, files = _read_csv(spark, uri) if kind == "csv" else _read_parquet(spark, uri, rank)
        rank += files
        frames.append(_validated(table, raw))
    frame = frames[0]
    for more in frames[1:]:
        frame = frame.unionByName(more, allowMissingColumns=True)
    return _dedupe(table, frame).drop(FILE, LINE)


def _sources(spark: SparkSession, root: str, name: str) -> list[tuple[str, str]]:
    """(uri, "csv"|"parquet") of table `name`, the base file first."""
    fs, path = _filesystem(spark, root)
    found = [(f"{root}/{name}.{kind}", kind) for kind in ("parquet", "csv")
             if fs.exists(path(f"{root}/{name}.{kind}"))]  # fmt: skip
    if len(found) > 1:
        raise DataError(found[1][0], None, None, f"both {name}.parquet and {name}.csv exist")
    dataset = f"{root}/{name}"
    if fs.exists(path(dataset)) and fs.getFileStatus(path(dataset)).isDirectory():
        files = fs.listFiles(path(dataset), True)  # recursive: Hive-style partitions too
        while files.hasNext():
            file = files.next().getPath().getName()
            if file.endswith(".parquet") and not file.startswith((".", "_")):
                found.append((dataset, "parquet"))  # an empty dataset is no source
                break
    return found


def _filesystem(spark: SparkSession, root: str) -> tuple[Any, Any]:
    """Hadoop's FileSystem for `root` and its Path class (the file systems Spark reads)."""
    jvm: Any = spark.sparkContext._jvm
    hadoop_path = jvm.org.apache.hadoop.fs.Path
    try:
        fs = hadoop_path(root).getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())  # type: ignore[union-attr]
        fs.exists(hadoop_path(root))
    except Exception as exc:  # py4j's Py4JJavaError: Hadoop's own message says why
        hint = f"; {S3A_HINT}" if root.startswith("s3a:") else ""
        raise InvalidInput(f"cannot open data at {root}: {_java_message(exc)}{hint}") from None
    return fs, hadoop_path


def _java_message(exc: Exception) -> str:
    java = getattr(exc, "java_exception", None)
    return str(java.toString()) if java is not None else str(exc).splitlines()[0]


def _read_parquet(spark: SparkSession, uri: str, first_rank: int) -> tuple[DataFrame, int]:
    """A Parquet file or dataset with `_file`, `_line` (row in its file) and `_row`."""
    try:
        frame = spark.read.parquet(uri)
    except Exception as exc:
        why = f"not a readable Parquet file: {_java_message(exc)}"
        raise DataError(uri, None, None, why) from None
    # the same file is `file:///x` in `inputFiles` and `file:/x` in `_metadata`
    files = sorted(re.sub("^file:/+", "file:/", f) for f in frame.inputFiles())
    ranks = spark.createDataFrame([(f, first_rank + i) for i, f in enumerate(files)],
                                  f"{FILE} string, _rank long")  # fmt: skip
    tagged = frame.select(
        "*",
        F.regexp_replace("_metadata.file_path", "^file:/+", "file:/").alias(FILE),
        F.col("_metadata.row_index").alias(LINE),
    ).join(F.broadcast(ranks), FILE)
    return tagged.withColumn(ROW, F.shiftleft("_rank", FILE_BITS) + F.col(LINE)).drop("_rank"), len(
        files
    )


def _read_csv(spark: SparkSession, uri: str) -> tuple[DataFrame, int]:
    """A CSV file (header, RFC 4180 quotes; every column text) with `_file`, `_line` (its
    0-based row number) and `_row`; a malformed row is kept in `_corrupt`."""
    header = spark.read.option("header", True).csv(uri).columns
    if not header:
        raise DataError(uri, None, None, "file is empty (no header row)")
    schema = T.StructType([T.StructField(h.strip(), T.StringType()) for h in header]
                          + [T.StructField(CORRUPT, T.StringType())])  # fmt: skip
    frame = (
        spark.read.schema(schema)
        .options(header=True, escape='"', mode="PERMISSIVE", columnNameOfCorruptRecord=CORRUPT)
        .csv(uri)
        .withColumn("_part", F.spark_partition_id())
        .withColumn("_id", F.monotonically_increasing_id())
    )
    # each split (partition) of the file numbers its rows; the rows before it are counted
    counts = sorted(frame.groupBy("_part").count().collect())
    starts, total = {}, 0
    for part, n in counts:
        starts[part], total = total, total + n
    start = F.create_map(*[F.lit(v) for kv in starts.items() for v in kv]) if starts else None
    line = (F.element_at(start, F.col("_part")) if start is not None else F.lit(0)) + (
        F.col("_id") - F.shiftleft(F.col("_part").cast("long"), 33)
    )
    tagged = frame.withColumn(LINE, line.cast("long")).withColumn(FILE, F.lit(uri))
    return tagged.withColumn(ROW, F.col(LINE)).drop("_part", "_id"), 1


def _validated(table: Table, raw: DataFrame) -> DataFrame:
    """The canonical table of one source, after one pass that finds its first bad row."""
    inner = {ROW, FILE, LINE, CORRUPT}
    types = {f.name: f.dataType for f in raw.schema.fields if f.name not in inner}
    missing = [c for c in table.required_columns if c not in types]
    if missing:
        raise DataError(_first_file(raw), None, missing[0], "required column is missing")
    values, checks = canonical(table, types)
    if CORRUPT in raw.columns:
        corrupt = F.col(CORRUPT)
        checks.insert(0, Check("", corrupt.isNotNull(), "malformed CSV row", corrupt))
    typed = raw.select(*values, ROW, FILE, LINE, first_failure(checks).alias(BAD))
    bad = typed.where(F.col(BAD).isNotNull()).orderBy(ROW).select(FILE, LINE, BAD).first()
    if bad is not None:
        file, line, (column, why, shown) = bad
        detail = "" if shown is None else f" {shown!r}"
        raise DataError(str(file), int(line) + 1, column or None, f"{why}{detail}")
    return typed.drop(BAD)


def _first_file(raw: DataFrame) -> str:
    files = raw.inputFiles()
    return sorted(files)[0] if files else "<empty>"


def _dedupe(table: Table, frame: DataFrame) -> DataFrame:
    """Duplicate keys: an error for customers and items (one pass); events and feedback keep
    the first occurrence in input order (re-ingesting the same event is idempotent)."""
    key = table.key
    if key is None:
        return frame
    if table.name in ("customers", "items"):
        first_two = F.array_sort(F.collect_list(F.struct(ROW, FILE, LINE)))
        dup = (
            frame.groupBy(key)
            .agg(F.count(F.lit(1)).alias("_n"), first_two.alias("_at"))
            .where(F.col("_n") > 1)
            .select(key, F.element_at("_at", 2).alias("_second"))
            .orderBy("_second")
            .first()
        )
        if dup is not None:
            second = dup["_second"]
            raise DataError(str(second[FILE]), int(second[LINE]) + 1, key,
                            f"duplicate id {str(dup[key])!r}")  # fmt: skip
        return frame
    first = Window.partitionBy(key).orderBy(ROW)
    return frame.withColumn("_k", F.row_number().over(first)).where(F.col("_k") == 1).drop("_k")
