from __future__ import annotations

import pytest
from pyspark.sql import SparkSession

from contracts.errors import InvalidInput
from spark.session import parse_conf

pytestmark = pytest.mark.spark  # one shared local session (tests/spark/conftest.py)


def test_conf_pairs_pass_through_and_values_may_hold_equals_signs() -> None:
    assert parse_conf(["spark.executor.memory=4g", "spark.x=a=b"]) == {
        "spark.executor.memory": "4g",
        "spark.x": "a=b",
    }


@pytest.mark.parametrize("pair", ["spark.executor.memory", "=4g", ""])
def test_a_conf_without_key_and_value_is_bad_input(pair: str) -> None:
    with pytest.raises(InvalidInput, match="key=value"):
        parse_conf([pair])


def test_the_shared_session_has_the_test_settings_ui_off_and_utc(spark: SparkSession) -> None:
    conf = spark.sparkContext.getConf()
    assert spark.sparkContext.master == "local[2]"
    assert conf.get("spark.ui.enabled") == "false"
    assert spark.conf.get("spark.sql.shuffle.partitions") == "2"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    assert spark.range(10).selectExpr("sum(id) AS s").first()["s"] == 45  # type: ignore[index]
