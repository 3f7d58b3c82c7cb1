"""`touchpoint experiments ...`: apply definitions, list them, check assignments, report."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from contracts.tables import load_table
from experiments.assignment import assign
from experiments.covariates import pre_period_spend
from experiments.export import to_csv
from experiments.model import Experiment, load_experiments, merge_definitions
from experiments.results import ExperimentResults, Lift, analyse_experiment
from jobs.audit_cmd import audited
from jobs.common import DataDir, JsonFlag, console, report, setup_logging
from store.client import connect
from store.config import StoreConfig
from store.experiment_store import ExperimentStore
from store.keys import Keys

experiments_app = typer.Typer(
    help="A/B experiments: definitions, assignment, results.", no_args_is_help=True
)


def _store(client: Any, data: Path) -> ExperimentStore:
    return ExperimentStore(client, Keys(StoreConfig(data_dir=data).namespace))


@experiments_app.command("apply")
def apply(
    file: Annotated[Path, typer.Argument(help="YAML file of experiment definitions.")],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Validate definitions and store them; changed weights move as few customers as possible."""
    setup_logging()
    with audited(data, "experiments.apply", str(file)) as detail:
        incoming = load_experiments(file)
        with connect(StoreConfig(data_dir=data)) as client:
            store = _store(client, data)
            existing = store.definitions()
            merged = merge_definitions(existing, incoming, str(file))
            revision = detail["revision"] = store.save(merged)
            detail["experiments"] = [exp.key for exp in merged]
    summary: dict[str, Any] = {"file": str(file), "revision": revision}
    for exp in merged:
        change = "updated" if exp.key in existing else "created"
        weights = "/".join(f"{n}:{w:g}" for n, w in exp.weights.items())
        summary[exp.key] = f"{change}, {exp.status}, layer {exp.layer_name}, {weights}"
    report("touchpoint experiments apply", summary, as_json=as_json)


@experiments_app.command("list")
def list_(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """The stored definitions."""
    with connect(StoreConfig(data_dir=data)) as client:
        defs = _store(client, data).definitions()
    if as_json:
        out = [e.model_dump(mode="json") for e in defs.values()]
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
        return
    table = Table(title="experiments")
    for column in ("key", "status", "layer", "variants", "control", "start", "stop"):
        table.add_column(column)
    for e in defs.values():
        weights = ", ".join(f"{n} {w:g}%" for n, w in e.weights.items())
        start, stop = (f"{t:%Y-%m-%d %H:%M}" if t else "" for t in (e.start, e.stop))
        table.add_row(e.key, e.status, e.layer_name, weights, e.control, start, stop)
    Console().print(table)


@experiments_app.command("assign")
def assign_cmd(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    channel: Annotated[str | None, typer.Option(help="Channel of the request.")] = None,
    segment: Annotated[
        list[str] | None, typer.Option(help="Customer segment (repeatable).")
    ] = None,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Which variant a customer gets now (computed in-process, as the API does)."""
    with connect(StoreConfig(data_dir=data)) as client:
        exp = _store(client, data).get(key)
    result = assign(exp, customer_id=customer_id, channel=channel, segments=segment or [])
    facts = {"experiment": key, "customer_id": customer_id, "variant": result.variant,
             "reason": result.reason}  # fmt: skip
    report("touchpoint experiments assign", facts, as_json=as_json)


@experiments_app.command("report")
def report_cmd(
    key: Annotated[str, typer.Argument(help="Experiment key.")],
    data: DataDir = Path("data"),
    cuped: Annotated[
        bool, typer.Option(help="Use pre-experiment spend from the data directory's events.")
    ] = True,
    csv: Annotated[bool, typer.Option("--csv", help="Print CSV, one row per variant.")] = False,
    as_json: JsonFlag = False,
) -> None:
    """Per-variant results with lifts, CIs, p-values, P(beat control), SRM and power checks."""
    setup_logging()
    with connect(StoreConfig(data_dir=data)) as client:
        store = _store(client, data)
        exp = store.get(key)
        rows = store.customer_rows(key)
        if cuped and rows.customer_ids:
            events = load_table(data, "events", required=False)
            if len(events):
                start = exp.start.timestamp() if exp.start else None
                cutoffs = [start if start is not None else t for t in rows.first_exposure]
                spend = pre_period_spend(events, customer_ids=rows.customer_ids, cutoffs=cutoffs)
                store.save_pre_spend(key, spend)  # the API's results then use it too
                rows.pre_spend = [spend[c] for c in rows.customer_ids]
    results = analyse_experiment(exp, rows)
    if csv:
        sys.stdout.write(to_csv(results))
    elif as_json:
        out = {"experiment": key, "status": exp.status, **results.as_dict()}
        sys.stdout.write(orjson.dumps(out).decode() + "\n")
    else:
        _print(exp, results)


def _pct(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:.2%}"


def _lift_row(name: str, metric: str, lift: Lift | None, relative: bool = True) -> list[str]:
    if lift is None:
        return [name, metric, "-", "-", "-"]
    value, (low, high) = (
        (lift.relative, lift.relative_ci) if relative else (lift.absolute, lift.absolute_ci)
    )
    fmt = "{:+.1%}" if relative else "{:+.2f}"
    ci = f"[{fmt.format(low)}, {fmt.format(high)}]"
    return [name, metric, fmt.format(value), ci, f"{lift.p_value:.3g}"]


def _print(exp: Experiment, results: ExperimentResults) -> None:
    """Two tables that fit a terminal: per-variant counts, then lifts against control."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    counts = Table(title=f"experiment {exp.key} ({exp.status}), {now}")
    for column in ("variant", "users", "exposures", "conversions", "conv. rate", "rev/user",
                   "P(beat ctrl)"):  # fmt: skip
        counts.add_column(column, justify="left" if column == "variant" else "right")
    lifts = Table(title=f"against control {results.control!r} (95% CI)")
    for column in ("variant", "metric", "lift", "95% CI", "p-value"):
        lifts.add_column(column, justify="left" if column in ("variant", "metric") else "right")
    for v in results.variants:
        rpu = "-" if v.revenue_per_user != v.revenue_per_user else f"{v.revenue_per_user:.2f}"
        counts.add_row(
            f"{v.name} (control)" if v.is_control else v.name, f"{v.users:,}",
            f"{v.exposures:,}", f"{v.conversions:,}", _pct(v.conversion_rate), rpu,
            _pct(v.prob_beat_control),
        )  # fmt: skip
        if v.is_control:
            continue
        lifts.add_row(*_lift_row(v.name, "conversion rate", v.conversion_rate_lift))
        lifts.add_row(*_lift_row(v.name, "revenue/user", v.revenue_per_user_lift))
        if v.revenue_per_user_lift_cuped is not None:
            cuped = v.revenue_per_user_lift_cuped
            lifts.add_row(*_lift_row(v.name, "revenue/user, CUPED (abs)", cuped, relative=False))
    out = Console()
    out.print(counts)
    out.print(lifts)
    verdict = "[green]trustworthy[/]" if results.trustworthy else "[bold red]UNTRUSTWORTHY[/]"
    out.print(f"SRM chi-square p = {results.srm_p_value:.3g}: {verdict}")
    if results.cuped_variance_reduction is not None:
        out.print(f"CUPED variance reduction: {results.cuped_variance_reduction:.1%}")
    for warning in results.warnings:
        console.print(f"[yellow]warning:[/] {warning}")


def register(app: typer.Typer) -> None:
    app.add_typer(experiments_app, name="experiments")
