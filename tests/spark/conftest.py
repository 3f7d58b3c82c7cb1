"""One local Spark session for the whole test run, so the JVM starts once.

Two cores, two shuffle partitions: the Spark tests run on tiny data and must stay cheap on
a shared machine. pyspark is part of `make test`'s install (`.[dev,spark]`); without it
these tests fail at import, naming the extra, rather than skip.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pyspark.sql import SparkSession

from spark.session import SparkSettings, spark_session

TEST_CONF = {
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.sql.adaptive.enabled": "false",
    "spark.driver.memory": "1g",
}


@pytest.fixture(scope="session")
def spark() -> Iterator[SparkSession]:
    session = spark_session(SparkSettings(master="local[2]", conf=TEST_CONF))
    yield session
    session.stop()
