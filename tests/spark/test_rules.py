"""The rule language compiled to Spark columns means what the pandas evaluator means:
missing values (null, NaN) make a comparison false, and bad rules fail with the same
message before any Spark job runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pyspark.sql import SparkSession

from segments.definitions import RuleSegment, evaluate
from segments.errors import SegmentRuleError
from segments.expr import parse
from spark.rules import compile_rule

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)

FRAME = pd.DataFrame({
    "monetary": [500.0, np.nan, 20.0, 0.0],
    "rfm_segment": pd.array(["At Risk", None, "Lost", ""], dtype="string[pyarrow]"),
    "channel_share.app": [0.9, 0.2, np.nan, 0.0],
    "csat_unhappy": [True, False, False, True],
    "frequency": [3, 0, 1, 0],
})  # fmt: skip
GOOD = [
    "monetary >= 100 and channel_share.app > 0.5",
    "not monetary >= 100",
    'rfm_segment in ["At Risk", "Lost"]',
    'rfm_segment not in ["At Risk"]',
    'rfm_segment != "Lost" or csat_unhappy',
    "monetary != 20 and frequency in [0, 3]",
    "not (channel_share.app < 0.5)",
    "csat_unhappy == false",
]
BAD = ["monetry > 1", 'monetary == "x"', 'rfm_segment > "a"', "monetary + 1", "monetary"]


def _rule(text: str) -> RuleSegment:
    return RuleSegment("r", "", text, parse("r", text))


def test_every_rule_selects_the_same_rows_on_both_engines(spark: SparkSession) -> None:
    frame = spark.createDataFrame(FRAME.astype({"rfm_segment": object}))
    columns = [compile_rule(_rule(t), frame).alias(f"r{i}") for i, t in enumerate(GOOD)]
    rows = frame.select(*columns).collect()
    for i, text in enumerate(GOOD):
        got = [bool(r[f"r{i}"]) for r in rows]
        assert got == evaluate(_rule(text), FRAME).tolist(), text
    assert [bool(r["r0"]) for r in rows] == [True, False, False, False]  # written by hand


@pytest.mark.parametrize("text", BAD)
def test_a_bad_rule_fails_with_the_pandas_engines_message(spark: SparkSession, text: str) -> None:
    frame = spark.createDataFrame(FRAME.astype({"rfm_segment": object}))
    try:
        rule = _rule(text)
    except SegmentRuleError:
        return  # a syntax error never reaches an engine
    with pytest.raises(SegmentRuleError) as on_pandas:
        evaluate(rule, FRAME)
    with pytest.raises(SegmentRuleError) as on_spark:
        compile_rule(rule, frame)
    assert str(on_spark.value) == str(on_pandas.value)
