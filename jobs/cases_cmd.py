"""`touchpoint cases list|show|export|report`: the follow-up cases queue from the command line
(the same store and report as `GET /v1/cases`, `/v1/cases/{id}` and `/v1/cases/report`)."""

from __future__ import annotations

import asyncio
import csv
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.table import Table

from contracts.errors import InvalidInput, NotFound
from jobs.common import DataDir, JsonFlag, console
from store.config import StoreConfig
from store.keys import Keys

cases_app = typer.Typer(name="cases", help="Follow-up cases: list, show, export, report.",
                        no_args_is_help=True)  # fmt: skip
T = TypeVar("T")
COLUMNS = ("case_id", "status", "priority", "queue", "touchpoint", "customer_id", "survey",
           "score", "created_at", "due_at", "overdue", "assignee")  # fmt: skip


def _run(data: Path, work: Callable[[Any, Keys], Awaitable[T]]) -> T:
    """`work(client, keys)` on the configured (or the data directory's embedded) Redis."""
    from store.client import RedisEndpoint, async_client

    config = StoreConfig(data_dir=data)
    endpoint = RedisEndpoint(config)
    url = endpoint.open()

    async def go() -> T:
        client = async_client(url, timeout=30.0)
        try:
            return await work(client, Keys(config.namespace))
        finally:
            await client.aclose()

    try:
        return asyncio.run(go())
    finally:
        endpoint.close()


def _flag(case: dict[str, Any]) -> dict[str, Any]:
    from insights.followup import is_overdue

    case["overdue"] = is_overdue(case, datetime.now(UTC))
    return case


def _print_json(body: Any) -> None:
    sys.stdout.write(orjson.dumps(body).decode() + "\n")


@cases_app.command("list")
def list_cmd(
    data: DataDir = Path("data"),
    status: Annotated[str | None, typer.Option(help="open, contacted, resolved, ...")] = None,
    queue: Annotated[str | None, typer.Option()] = None,
    touchpoint: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[str | None, typer.Option(help="a level of cases.yaml, e.g. p1")] = None,
    order: Annotated[str, typer.Option(help="newest | urgent")] = "newest",
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous page")] = None,
    as_json: JsonFlag = False,
) -> None:
    """One page of cases, newest or most urgent first (overdue ones flagged)."""
    from store.cases import ORDERS, list_cases

    if order not in ORDERS:
        raise InvalidInput(f"--order must be one of {', '.join(ORDERS)}, got {order!r}")
    filters = {"status": status, "queue": queue, "touchpoint": touchpoint, "priority": priority}
    wanted = {k: v for k, v in filters.items() if v}

    async def work(client: Any, keys: Keys) -> Any:
        try:
            return await list_cases(client, keys, order=order, filters=wanted, cursor=cursor,
                                    limit=limit)  # fmt: skip
        except ValueError as exc:
            raise InvalidInput(f"--cursor: {exc}") from None

    page = _run(data, work)
    cases = [_flag(c) for c in page.cases]
    if as_json:
        _print_json({"cases": cases, "next_cursor": page.cursor})
        return
    table = Table(*COLUMNS)
    for case in cases:
        table.add_row(*(str(case.get(c, "")) for c in COLUMNS))
    console.print(table)
    if page.cursor:
        console.print(f"next page: --cursor {page.cursor}")


@cases_app.command("show")
def show(case_id: str, data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """One case with its notes."""
    from store.cases import read_case

    case = _run(data, lambda client, keys: read_case(client, keys, case_id))
    if case is None:
        raise NotFound(f"no case {case_id!r}")
    case = _flag(case)
    if as_json:
        _print_json(case)
        return
    for name, value in case.items():
        console.print(f"[bold]{name}[/]: {value}")


@cases_app.command("export")
def export(
    data: DataDir = Path("data"),
    out: Annotated[
        Path | None, typer.Option(help="FILE.csv, FILE.parquet or FILE.ndjson; default stdout")
    ] = None,
) -> None:
    """Every case (newest first) as CSV, Parquet or NDJSON."""
    from store.cases import all_cases

    cases = [_flag(c) for c in _run(data, all_cases)]
    suffix = out.suffix if out is not None else ".ndjson"
    if suffix not in (".csv", ".parquet", ".ndjson", ".jsonl"):
        raise InvalidInput(f"--out {out}: use .csv, .parquet or .ndjson")
    names = sorted({k for c in cases for k in c} | set(COLUMNS))
    if suffix == ".parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        assert out is not None
        pq.write_table(pa.table({n: [_text(c.get(n)) for c in cases] for n in names}), out)
    elif suffix == ".csv":
        assert out is not None
        with out.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, names)
            writer.writeheader()
            writer.writerows({n: _text(c.get(n)) for n in names} for c in cases)
    else:
        lines = "".join(orjson.dumps(case).decode() + "\n" for case in cases)
        if out is None:
            sys.stdout.write(lines)
        else:
            out.write_text(lines)
    if out is not None:
        console.print(f"{len(cases)} cases written to {out}")


def _text(value: Any) -> str:
    return "" if value is None else str(value)


@cases_app.command("report")
def report(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """Time to first contact and to resolution per queue, share within SLA, and the next NPS
    of customers whose case was resolved against the others (observational)."""
    from insights.case_report import report as build_report
    from store.cases import all_cases, latest_nps

    async def work(client: Any, keys: Keys) -> dict[str, Any]:
        cases = await all_cases(client, keys)
        latest = await latest_nps(client, keys, sorted({str(c["customer_id"]) for c in cases}))
        return build_report(cases, latest, datetime.now(UTC))

    body = _run(data, work)
    if as_json:
        _print_json(body)
        return
    table = Table("queue", "cases", "open", "first contact h (median/p90)",
                  "resolution h (median/p90)", "within SLA")  # fmt: skip
    for name, row in body["queues"].items():
        fc, rs, sla = row["hours_to_first_contact"], row["hours_to_resolution"], row["within_sla"]
        table.add_row(name, str(row["cases"]), str(row["open"]), f"{fc['median']}/{fc['p90']}",
                      f"{rs['median']}/{rs['p90']}", f"{sla['share']} of {sla['n']}")  # fmt: skip
    console.print(table)
    nps = body["next_nps"]
    for group in ("resolved", "not_resolved"):
        g = nps[group]
        console.print(f"next NPS, {group}: n={g['n']} mean={g['mean']} [{g['low']}, {g['high']}]"
                      f" NPS={g['nps']}")  # fmt: skip
    console.print(f"difference of means: {nps['difference_of_means']}")
    console.print(f"[yellow]{nps['warning']}[/]")


def register(app: typer.Typer) -> None:
    app.add_typer(cases_app)
