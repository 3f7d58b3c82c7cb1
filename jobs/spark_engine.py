"""`--engine spark` for the batch commands: a session from the command's options, and the
Spark steps in the shape the pandas pipeline calls. Imported only when asked for, so the
single-machine engine never needs pyspark or Java."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from jobs.segmentation import Engine
from segments.build import SegmentBuild
from segments.definitions import RuleSegment
from spark.segment import build_segments
from spark.session import SparkSettings, parse_conf, spark_session
from spark.tables import to_spark


def spark_segmenter(tables: dict[str, pd.DataFrame], *, master: str, conf: Sequence[str]) -> Engine:
    """`touchpoint segment --engine spark`: the loaded tables, segmented on Spark."""
    session = spark_session(SparkSettings(master=master, conf=parse_conf(conf)))

    def run(as_of: str | None, rules: list[RuleSegment] | None) -> SegmentBuild:
        return build_segments(tables=to_spark(session, tables), as_of=as_of, rules=rules)

    return run
