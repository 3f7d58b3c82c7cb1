"""`touchpoint insights`: CX scores, drivers, themes and sentiment; print, write, publish.

`touchpoint sentiment TEXT... [--file FILE]` scores texts with the published sentiment model.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from contracts.errors import InvalidInput, NotFound, Unavailable
from contracts.people import ANALYTICS
from contracts.tables import load_tables
from insights.scores import DIMENSIONS, PERIODS
from jobs.common import DataDir, JsonFlag, progress, report, setup_logging
from jobs.insights import as_json, headline, run_insights
from store.client import connect
from store.config import StoreConfig
from store.insights import live_sentiment_model


def _by(text: str) -> list[str]:
    by = [part.strip() for part in text.split(",") if part.strip()]
    unknown = [b for b in by if b not in DIMENSIONS]
    if unknown or not by:
        raise InvalidInput(f"--by {text!r}: comma-separated names of {', '.join(DIMENSIONS)}")
    return by


def _day(option: str, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{option} {value!r}: not an ISO date (YYYY-MM-DD)") from None


def insights(
    data: DataDir = Path("data"),
    since: Annotated[str | None, typer.Option("--since", help="First day (ISO date).")] = None,
    until: Annotated[str | None, typer.Option("--until", help="Last day (ISO date).")] = None,
    by: Annotated[
        str, typer.Option("--by", help="Dimensions to break scores down by, comma-separated.")
    ] = ",".join(DIMENSIONS),
    period: Annotated[str, typer.Option("--period", help="day, week or month.")] = "week",
    min_n: Annotated[int, typer.Option("--min-n", min=1, help="Smaller cells are flagged.")] = 30,
    journey: Annotated[
        Path | None,
        typer.Option(
            "--journey",
            help="Journey map (default: journey.yaml in the rules dir).",
            dir_okay=False,
        ),
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", help="Write .csv/.parquet (score tables) or .json (all).", dir_okay=False
        ),
    ] = None,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Publish for the API.")
    ] = True,
    as_json_flag: JsonFlag = False,
) -> None:
    """NPS/CSAT/CES by touchpoint, stage, channel, segment and tier with intervals; key
    drivers; themes and sentiment of comments. Publishes a new insights version."""
    setup_logging()
    started = time.monotonic()
    dims = _by(by)
    first, last = _day("--since", since), _day("--until", until)
    if first and last and first > last:
        raise InvalidInput(f"--since {first} is after --until {last}")
    if period not in PERIODS:
        raise InvalidInput(f"--period {period!r}: one of {', '.join(PERIODS)}")
    with progress() as bar:
        task = bar.add_task("load", total=None)
        tables = load_tables(data, purpose=ANALYTICS)  # who allowed analytics
        try:
            run = run_insights(
                data, tables, journey_file=journey, since=since, until=until, by=dims,
                period=period, min_n=min_n, output=output, publish=publish,
                step=lambda name: bar.update(task, description=name),
            )  # fmt: skip
        except RedisError as exc:
            raise Unavailable(f"Redis: {exc}; the previous insights stay live") from None
    run.summary["seconds"] = round(time.monotonic() - started, 1)
    if as_json_flag:
        body = {"summary": run.summary, "documents": as_json(run.documents)}
        sys.stdout.write(orjson.dumps(body).decode() + "\n")
        return
    print_headline(headline(run.documents, dims[0]), dims[0])
    report("touchpoint insights", run.summary, as_json=False)


def print_headline(rows: list[dict[str, Any]], by: str) -> None:
    table = Table(title=f"CX scores by {by} (95% intervals; * = fewer answers than the minimum)")
    for column in (by, "NPS", "CSAT % 4-5", "CES mean", "n"):
        table.add_column(column, justify="left" if column == by else "right")
    for row in rows:
        cells = [_cell(row.get(m)) for m in ("nps", "csat", "ces")]
        n = sum(int((row.get(m) or {}).get("n") or 0) for m in ("nps", "csat", "ces"))
        table.add_row(str(row[by] or "(none)"), *cells, f"{n:,}")
    Console().print(table)


def _cell(row: dict[str, Any] | None) -> str:
    if not row or row.get("value") is None:
        return "-"
    star = "*" if row.get("insufficient") else ""
    low, high = row.get("low"), row.get("high")
    span = f" [{low:.1f}, {high:.1f}]" if low is not None and high is not None else ""
    return f"{row['value']:.1f}{span}{star}"


def sentiment(
    texts: Annotated[list[str] | None, typer.Argument(help="Texts to score.")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="More texts, one per line ('-' = stdin).", allow_dash=True),
    ] = None,
    data: DataDir = Path("data"),
    as_json_flag: JsonFlag = False,
) -> None:
    """Score texts (any language the comments were in) with the published sentiment model:
    -1 negative .. 1 positive."""
    chosen = list(texts or [])
    if file is not None:
        source = sys.stdin.read() if str(file) == "-" else _read(file)
        chosen += [line for line in source.splitlines() if line.strip()]
    if not chosen:
        raise InvalidInput("give texts to score, as arguments or with --file")
    config = StoreConfig(data_dir=data)
    with connect(config) as client:
        version, raw = live_sentiment_model(client, config)
    if raw is None:
        raise NotFound("no sentiment model published: run `touchpoint insights` on data with "
                       "scored comments")  # fmt: skip
    from insights.sentiment import SentimentModel

    scores = SentimentModel.from_bytes(raw).score(chosen)
    pairs = list(zip(chosen, (round(float(v), 4) for v in scores), strict=True))
    rows = [{"text": t, "sentiment": v} for t, v in pairs]
    if as_json_flag:
        sys.stdout.write(orjson.dumps({"version": version, "scores": rows}).decode() + "\n")
        return
    table = Table(title=f"sentiment (insights version {version})")
    table.add_column("sentiment", justify="right")
    table.add_column("text")
    for text, value in pairs:
        table.add_row(f"{value:+.2f}", escape(text))
    Console().print(table)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"{path}: cannot read: {exc}") from None


def register(app: typer.Typer) -> None:
    app.command("insights")(insights)
    app.command("sentiment")(sentiment)
