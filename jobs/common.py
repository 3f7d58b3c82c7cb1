"""What every command shares: the `--data` and `--json` options, output, logging."""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.errors import InvalidInput
from recsys.business_rules import RuleBook, load_rulebook
from recsys.matrix import PRODUCT_RATINGS, RATINGS

DataDir = Annotated[
    Path,
    typer.Option(
        "--data",
        envvar="TOUCHPOINT_DATA_DIR",
        help="Data directory (default: $TOUCHPOINT_DATA_DIR, else ./data).",
        file_okay=False,
    ),
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
RatingsOpt = Annotated[
    str,
    typer.Option(
        "--ratings",
        envvar="TOUCHPOINT_RATINGS",
        help=f"How `rate` events become confidence: {' | '.join(RATINGS)} "
        f"(default {PRODUCT_RATINGS}, or $TOUCHPOINT_RATINGS).",
    ),
]
AsOfOpt = Annotated[
    str | None,
    typer.Option("--as-of", help="Date of the segment features (default: the last event)."),
]
SegmentDefinitionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--segment-definitions", help="YAML file of the marketer's rule segments.", dir_okay=False
    ),
]
OldSegmentDefinitionsOpt = Annotated[
    Path | None,
    typer.Option("--rules", hidden=True, help="Old name of --segment-definitions.", dir_okay=False),
]
# The API's setting of the same name (`api.settings`), and its old name, still read.
BUSINESS_RULES_DIR_ENV, OLD_RULES_DIR_ENV = "TOUCHPOINT_BUSINESS_RULES_DIR", "TOUCHPOINT_RULES_DIR"

console = Console(stderr=True)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line: what log shippers expect when output is not a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def setup_logging(level: int = logging.INFO, *, json_lines: bool = False) -> None:
    """Rich logs on a terminal, JSON lines otherwise (or when `json_lines`)."""
    handler: logging.Handler
    if sys.stderr.isatty() and not json_lines:
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def business_rules() -> RuleBook:
    """The business rules the API serves with ($TOUCHPOINT_BUSINESS_RULES_DIR, else ./rules):
    the batch leaves out what they say a customer already has (a bad file:
    `BusinessRulesError`)."""
    if os.environ.get(OLD_RULES_DIR_ENV) and not os.environ.get(BUSINESS_RULES_DIR_ENV):
        logging.getLogger("touchpoint").warning(
            "%s is deprecated; use %s", OLD_RULES_DIR_ENV, BUSINESS_RULES_DIR_ENV
        )
    found = os.environ.get(BUSINESS_RULES_DIR_ENV) or os.environ.get(OLD_RULES_DIR_ENV)
    return load_rulebook(Path(found or "rules"))


def segment_definitions(path: Path | None, old: Path | None) -> Path | None:
    """`--segment-definitions`, or its old name `--rules` (with a warning)."""
    if old is not None:
        logging.getLogger("touchpoint").warning("--rules is deprecated; use --segment-definitions")
    return path or old


def ratings_reading(value: str) -> str:
    if value not in RATINGS:
        raise InvalidInput(f"--ratings must be one of {', '.join(RATINGS)}, not {value!r}")
    return value


def progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        transient=not sys.stderr.isatty(),
        disable=not sys.stderr.isatty(),
    )


def report(title: str, rows: Mapping[str, Any], *, as_json: bool) -> None:
    """End of a command: a summary table, or the same facts as JSON on stdout."""
    if as_json:
        sys.stdout.write(orjson.dumps(dict(rows), default=str).decode() + "\n")
        return
    table = Table(title=title, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    for key, value in rows.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    Console().print(table)


# `--engine spark` and its settings (the `spark/` package, an optional extra).
ENGINES = ("pandas", "spark")
EngineOpt = Annotated[
    str,
    typer.Option("--engine", help="pandas (one machine, default) or spark (pip install .[spark])."),
]
SparkMasterOpt = Annotated[
    str,
    typer.Option("--spark-master", help="Spark master URL (default local[*])."),
]
SparkConfOpt = Annotated[
    list[str] | None,
    typer.Option("--conf", help="A Spark setting k=v, passed through (repeatable)."),
]


def engine_choice(value: str) -> str:
    if value not in ENGINES:
        raise InvalidInput(f"--engine must be one of {', '.join(ENGINES)}, not {value!r}")
    return value


DataLocation = Annotated[
    str,
    typer.Option(
        "--data",
        envvar="TOUCHPOINT_DATA_DIR",
        help="Data directory (default: $TOUCHPOINT_DATA_DIR, else ./data); with --engine spark "
        "also a URI Spark reads: file://, hdfs://, s3a://.",
    ),
]
LocalDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--local-dir",
        help="Local directory for the model registry, segments and embedded Redis files "
        "(the API's TOUCHPOINT_DATA_DIR); default: --data, which must then be local.",
        file_okay=False,
    ),
]


def local_state(data: str, local: Path | None) -> Path:
    """Where models, segments and embedded Redis files live: `--local-dir`, else `--data`
    when it is a local directory (a plain path or a `file://` URI)."""
    from spark.location import local_dir  # no pyspark: a URI parser

    found = local if local is not None else local_dir(data)
    if found is None:
        raise InvalidInput(
            f"--data {data} is not a local directory: give --local-dir DIR for the model "
            "registry, segments and embedded Redis files (the API's TOUCHPOINT_DATA_DIR)"
        )
    return found


def pandas_data(data: str) -> Path:
    """The single-machine engine reads a local directory only."""
    from spark.location import local_dir

    found = local_dir(data)
    if found is None:
        raise InvalidInput(f"--data {data}: a URI is read by --engine spark only")
    return found
