"""Tables already in pandas (loaded by `contracts.tables`) as Spark DataFrames.

Handed to Spark through Arrow with a `_row` column keeping each table's file order (the
pandas engine breaks some ties by it). The commands read the data directory with Spark's
own readers instead (`spark.sources`, the same canonical columns); this path serves tests
and an absent optional table.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

ROW = "_row"


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


def utc_times(values: pd.Series) -> pd.Series:
    """Times as the pandas engine holds them: UTC-aware nanoseconds."""
    stamps = pd.to_datetime(values)
    if stamps.dt.tz is None:  # Spark hands naive times in the session's zone, UTC
        stamps = stamps.dt.tz_localize("UTC")
    return stamps.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
