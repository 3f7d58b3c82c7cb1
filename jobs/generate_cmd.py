"""`touchpoint generate`: write a realistic synthetic data set into a data directory."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from contracts.errors import InvalidInput
from jobs.common import JsonFlag, progress, report, setup_logging
from jobs.generate import FORMATS, generate, window

OutDir = Annotated[
    Path,
    typer.Option(
        "--out",
        "--data",
        envvar="TOUCHPOINT_DATA_DIR",
        help="Directory to write customers, items, events and feedback into "
        "(default: $TOUCHPOINT_DATA_DIR, else ./data).",
        file_okay=False,
    ),
]


def generate_command(
    customers: Annotated[int, typer.Option("--customers", help="Number of customers.")] = 5000,
    items: Annotated[
        int, typer.Option("--items", help="Catalogue size (products, content, offers, rewards).")
    ] = 800,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same files, byte for byte.")] = 7,
    out: OutDir = Path("data"),
    events_per_customer: Annotated[
        float, typer.Option("--events-per-customer", help="Mean events per customer.")
    ] = 50.0,
    fmt: Annotated[str, typer.Option("--format", help=" or ".join(FORMATS))] = "parquet",
    as_json: JsonFlag = False,
) -> None:
    """Generate a realistic synthetic data set (customers, catalogue, events, feedback)."""
    setup_logging()
    started = time.monotonic()
    try:
        with progress() as bar:
            task = bar.add_task("generating customers", total=customers)
            rows = generate(
                customers=customers,
                items=items,
                seed=seed,
                out=out,
                events_per_customer=events_per_customer,
                fmt=fmt,
                progress=lambda done, _total: bar.update(task, completed=done),
            )
    except OSError as exc:
        raise InvalidInput(f"cannot write to {out}: {exc.strerror or exc}") from None
    start, days = window(seed)
    history = (
        f"{time.strftime('%Y-%m-%d', time.gmtime(start))} to "
        f"{time.strftime('%Y-%m-%d', time.gmtime(start + days * 86_400 - 1))}"
    )
    seconds = round(time.monotonic() - started, 1)
    if as_json:
        summary: dict[str, object] = {"rows": rows}
    else:
        summary = {f"{name} rows": count for name, count in rows.items()}
    summary |= {
        "out": str(out),
        "format": fmt,
        "seed": seed,
        "history": history,
        "seconds": seconds,
    }
    report("touchpoint generate", summary, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
