"""The one place a SparkSession is made: master, `--conf k=v` pass-through, quiet logs.

Defaults suit one machine and tests (UI off, few shuffle partitions, UTC session time so
day arithmetic matches the pandas engine); every default can be overridden with `--conf`.
Under `spark-submit` the master and settings given there win: `getOrCreate` reuses the
session spark-submit built and only adds the settings it has not been given.
"""

from __future__ import annotations

import logging
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from contracts.errors import InvalidInput

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DEFAULT_MASTER = "local[*]"
LOG_CONFIG = Path(__file__).with_name("log4j2.properties")
DEFAULTS: Mapping[str, str] = {
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.shuffle.partitions": "8",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.adaptive.enabled": "true",
    "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{LOG_CONFIG}",
}


@dataclass(frozen=True)
class SparkSettings:
    """Where the job runs and the Spark settings passed through unchanged."""

    master: str = DEFAULT_MASTER
    conf: Mapping[str, str] = field(default_factory=dict)
    app_name: str = "touchpoint"


def parse_conf(pairs: Iterable[str]) -> dict[str, str]:
    """`["k=v", ...]` from repeated `--conf` options; a pair without `=` is bad input."""
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(
                f"--conf {pair!r}: expected key=value, e.g. spark.executor.memory=4g"
            )
        out[key.strip()] = value
    return out


def spark_session(settings: SparkSettings | None = None) -> SparkSession:
    """A session with the project's defaults under the caller's settings."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the optional extra is not installed
        raise InvalidInput(
            "--engine spark needs pyspark: pip install -e '.[spark]' (and a Java 17 runtime)"
        ) from exc
    cfg = settings or SparkSettings()
    # pyspark 4.x warns on every pandas conversion that pandas 3 is "not yet fully
    # supported"; the conversions this project uses are covered by its parity tests.
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    warnings.filterwarnings("ignore", message="The copy keyword is deprecated", module="pyspark")
    os.environ.setdefault("PYARROW_IGNORE_TIMEZONE", "1")
    # Python workers (pandas UDFs, publishing from executors) run this interpreter, with
    # the project's packages, unless the cluster names its own
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    logging.getLogger("py4j").setLevel(logging.WARNING)  # not one line per socket closed
    builder = SparkSession.builder.appName(cfg.app_name)
    if not os.environ.get("SPARK_ENV_LOADED"):  # not under spark-submit: we pick the master
        builder = builder.master(cfg.master)
    for key, value in {**DEFAULTS, **cfg.conf}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel(cfg.conf.get("touchpoint.log.level", "WARN"))
    return session
