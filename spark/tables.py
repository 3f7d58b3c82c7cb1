"""The data directory's tables as Spark DataFrames.

The tables are read and validated by `contracts.tables` (one error naming file, row and
column; nothing half-imported), then handed to Spark through Arrow with a `_row` column
keeping each table's file order (the pandas engine breaks some ties by it). Reading the
files with Spark's own readers, for data directories past one machine's memory, is not
done yet: see the README's "Scaling out".
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from contracts.tables import load_tables

ROW = "_row"


def spark_tables(spark: SparkSession, data: Path | str) -> dict[str, DataFrame]:
    """The four tables (customers, items, events, feedback) as Spark DataFrames."""
    return to_spark(spark, load_tables(data))


def to_spark(
    spark: SparkSession, tables: Mapping[str, pd.DataFrame | None]
) -> dict[str, DataFrame]:
    """Canonical pandas tables as Spark DataFrames: enums and ids as strings, timestamps in
    UTC, plus `_row`, the 0-based row number in the input."""
    return {
        name: spark.createDataFrame(plain, schema=_schema(plain))
        for name, frame in tables.items()
        if frame is not None and (plain := _plain(frame)) is not None
    }


def _schema(frame: pd.DataFrame) -> T.StructType:
    """An explicit schema, so empty tables and all-null columns convert too."""
    fields = []
    for name in frame.columns:
        dtype = frame[name].dtype
        kind: T.DataType
        if pd.api.types.is_bool_dtype(dtype):
            kind = T.BooleanType()
        elif pd.api.types.is_integer_dtype(dtype):
            kind = T.LongType()
        elif pd.api.types.is_float_dtype(dtype):
            kind = T.DoubleType()
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            kind = T.TimestampType()
        else:
            kind = T.StringType()
        fields.append(T.StructField(str(name), kind, nullable=True))
    return T.StructType(fields)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name in frame.columns:
        series = frame[name].reset_index(drop=True)
        if isinstance(series.dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(
            series.dtype
        ):
            series = series.astype(object).where(series.notna(), None)
        elif pd.api.types.is_datetime64_any_dtype(series.dtype):
            series = series.dt.tz_convert("UTC") if series.dt.tz else series.dt.tz_localize("UTC")
        out[str(name)] = series
    out[ROW] = np.arange(len(frame), dtype=np.int64)
    return out
