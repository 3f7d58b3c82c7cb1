"""What every command shares: the `--data` and `--json` options, output, errors, logging."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from contracts.errors import DataError

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


def setup_logging(level: int = logging.INFO) -> None:
    """Rich logs on a terminal, JSON lines otherwise."""
    handler: logging.Handler
    if sys.stderr.isatty():
        from rich.logging import RichHandler

        handler = RichHandler(console=console, show_path=False)
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonLogFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print a clear error; bad input exits 2."""
    console.print(f"[bold red]error:[/] {message}")
    return typer.Exit(code)


@contextmanager
def input_errors() -> Iterator[None]:
    """Turn a `DataError` into exit code 2 with file, row, column and reason."""
    try:
        yield
    except DataError as exc:
        raise fail(exc.describe()) from None


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
