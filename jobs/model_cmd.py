"""`touchpoint evaluate | train | models ... | recommend`: the model commands.

Thin: tables are loaded with `contracts.tables`, the work is done by `jobs.modelops`
(which calls `recsys`), and each command ends with a summary table or `--json`.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
import typer
from redis.exceptions import RedisError
from rich.console import Console
from rich.table import Table

from contracts.errors import Conflict, InvalidInput, Unavailable
from contracts.tables import load_tables
from jobs.audit_cmd import audited
from jobs.common import (
    DataDir,
    DataLocation,
    EngineOpt,
    JsonFlag,
    LocalDirOpt,
    RatingsOpt,
    SparkConfOpt,
    SparkMasterOpt,
    business_rules,
    console,
    engine_choice,
    local_state,
    pandas_data,
    ratings_reading,
    report,
    setup_logging,
)
from jobs.modelops import SPLITS, SplitKind, registry_for, run_evaluate, run_train
from jobs.pipeline import SEGMENTS_FILE, publish_model, publish_trained
from jobs.publish import Trained
from recsys.consumption import Consumption
from recsys.errors import ModelRejected
from recsys.evaluation import SERVED
from recsys.matrix import PRODUCT_RATINGS
from spark.location import local_dir

models_app = typer.Typer(
    help="Model registry: list, show, activate, roll back.", no_args_is_help=True
)
METRICS = ("ndcg", "recall", "precision", "map", "hit_rate", "coverage", "novelty", "diversity")
SIDE_BY_SIDE = ("ndcg", "recall", "precision", "map")  # shown raw and served
SplitOpt = Annotated[
    str,
    typer.Option(
        "--split",
        help="Validation: random (default: a random share of each customer's items), recent "
        "(each customer's latest items) or temporal (one global time cut).",
    ),
]
FractionOpt = Annotated[
    float, typer.Option("--test-fraction", min=0.01, max=0.99, help="Share held out.")
]


def _wide() -> Console:
    """Tables of many columns: full width on a terminal, 200 columns when piped."""
    return Console(width=None if sys.stdout.isatty() else 200)


def _split(value: str) -> SplitKind:
    for kind in SPLITS:
        if value == kind:
            return kind
    raise InvalidInput(f"--split must be one of {', '.join(SPLITS)}, not {value!r}")


def evaluate_command(
    data: DataDir = Path("data"),
    split: SplitOpt = SPLITS[0],
    test_fraction: FractionOpt = 0.2,
    k: Annotated[int, typer.Option("--k", min=1, help="List length for the metrics.")] = 10,
    report_file: Annotated[
        Path | None, typer.Option("--report", help="Also write the JSON report here.")
    ] = None,
    ratings: RatingsOpt = PRODUCT_RATINGS,
    as_json: JsonFlag = False,
) -> None:
    """Offline evaluation of every model family beside popularity (full ranking): each
    model's raw top-k and the list the product would serve (rules, what customers have)."""
    setup_logging()
    kind = _split(split)
    reading = ratings_reading(ratings)
    book = business_rules()
    tables = load_tables(data)
    with console.status("evaluating") as status:
        result = run_evaluate(
            tables,
            split=kind,
            test_fraction=test_fraction,
            k=k,
            on_model=lambda m: status.update(f"evaluating {m}"),
            ratings=reading,
            book=book,
        )
    if report_file is not None:
        report_file.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    if as_json:
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        return
    table = Table(title=f"touchpoint evaluate — {kind} split, full ranking, @{k}")
    table.add_column("model", no_wrap=True)
    shown = [*(c for m in SIDE_BY_SIDE for c in (m, SERVED + m)), *METRICS[4:]]
    for m in (*shown, "fit s"):
        table.add_column(m.replace("_", " "), justify="right")
    for row in result["models"]:
        if "skipped" in row:
            table.add_row(row["model"], f"[dim]skipped: {row['skipped']}[/]")
            continue
        table.add_row(row["model"], *[f"{row[m]:.3f}" for m in shown], f"{row['fit_seconds']:.1f}")
    _wide().print(table)
    facts = {k: v for k, v in result.items() if k != "models"}
    report(
        "evaluation data",
        facts | ({"report": str(report_file)} if report_file else {}),
        as_json=False,
    )


def train_command(
    data: DataLocation = "data",
    budget_seconds: Annotated[
        float, typer.Option("--budget-seconds", min=1.0, help="Time budget for model search.")
    ] = 120.0,
    split: SplitOpt = SPLITS[0],
    test_fraction: FractionOpt = 0.2,
    publish: Annotated[
        bool, typer.Option("--publish/--no-publish", help="Serve the new model right away.")
    ] = True,
    ratings: RatingsOpt = PRODUCT_RATINGS,
    as_json: JsonFlag = False,
    engine: EngineOpt = "pandas",
    spark_master: SparkMasterOpt = "local[*]",
    spark_conf: SparkConfOpt = None,
    local: LocalDirOpt = None,
) -> None:
    """Select the best model on a validation split (by the list the product would serve),
    refit on all data, save and publish it."""
    setup_logging()
    kind = _split(split)
    reading = ratings_reading(ratings)
    book = business_rules()
    on_spark = engine_choice(engine) == "spark"
    # the registry (and segments, embedded Redis) live in a local directory
    state = local_state(data, local) if on_spark else pandas_data(data)
    if on_spark and publish and local_dir(data) is None:
        raise InvalidInput(f"--data {data}: publishing reads the tables on this machine; "
                           "train with --no-publish, then publish from a local copy")  # fmt: skip
    tables = {} if on_spark else load_tables(state)
    started = time.monotonic()
    spark_run = None  # with --engine spark, the executors publish too
    with console.status(f"selecting a model (budget {budget_seconds:.0f}s)"):
        try:
            if on_spark:  # MLlib ALS, tables read by Spark; the budget does not apply
                from jobs.spark_engine import SparkRun, spark_train

                spark_run = SparkRun(spark_master, tuple(spark_conf or ()))

                res, counts = spark_train(data, state, master=spark_master,
                                          conf=spark_conf or [], split=kind,
                                          test_fraction=test_fraction, ratings=reading,
                                          book=book)  # fmt: skip
            else:
                res = run_train(
                    state, tables, budget_seconds=budget_seconds, split=kind,
                    test_fraction=test_fraction, ratings=reading, book=book,
                )  # fmt: skip
                counts = tables["events"]["type"].astype(str).value_counts()
        except ModelRejected as exc:
            active = registry_for(state).active()
            raise Conflict(f"model rejected: {exc.reason}; active version stays {active}") from exc
    sel = res.selection
    summary: dict[str, Any] = {
        "version": res.version,
        "model": res.bundle.info.get("label") or registry_for(state).show(res.version)["label"],
        f"validation {sel.metric}": round(sel.validation[sel.metric], 4),
        f"popularity {sel.metric}": round(sel.popularity[sel.metric], 4),
        "candidates tried": sum(1 for t in sel.trials if t.metrics) - 1,
        "candidates skipped": sum(1 for t in sel.trials if t.skipped),
        "ratings read as": reading,
        "consumed by": _consumed_by(counts, res.consumption),
        "customers": len(res.interactions.customers),
        "items": len(res.interactions.items),
        "interactions": int(res.interactions.matrix.nnz),
    }
    if publish:
        trained = Trained(res.model, res.interactions, res.name, res.version)
        segments_path = state / SEGMENTS_FILE
        segments = pd.read_parquet(segments_path) if segments_path.is_file() else None
        tables = tables or load_tables(pandas_data(data))
        with audited(state, "models.publish", res.version) as detail:
            summary["serving version"] = detail["serving_version"] = _redis_step(
                lambda: publish_trained(state, tables, trained, segments, book, spark=spark_run)
            )
    summary["engine"] = engine
    summary["seconds"] = round(time.monotonic() - started, 1)
    report("touchpoint train", summary, as_json=as_json)


def _consumed_by(counts: pd.Series, consumption: Consumption) -> str:
    """Which event types counted as consumption, with how many events of each were found
    (`counts`: events per type)."""
    found = [f"{t} ({int(counts.get(t, 0)):,})" for t in sorted(consumption.events)]
    extra = [f"{k}: {', '.join(sorted(v))}" for k, v in sorted(consumption.by_kind.items()) if v]
    return ", ".join(found) + (f"; for {'; '.join(extra)}" if extra else "")


@models_app.command("list")
def models_list(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """All saved model versions, newest last; the active one is marked."""
    rows = registry_for(data).list()
    if as_json:
        sys.stdout.write(orjson.dumps(rows).decode() + "\n")
        return
    table = Table(title=f"models in {registry_for(data).root}")
    for col in ("version", "active", "model", "served val ndcg", "pop ndcg", "seconds"):
        table.add_column(col)
    for r in rows:
        val, pop = (_served_ndcg(r.get("metrics", {}).get(m, {})) for m in ("validation",
                    "popularity"))  # fmt: skip
        table.add_row(
            r["version"],
            "*" if r["active"] else "",
            str(r.get("label", r["model"])),
            "" if val is None else f"{val:.4f}",
            "" if pop is None else f"{pop:.4f}",
            str(r.get("training_seconds", "")),
        )
    _wide().print(table)


@models_app.command("show")
def models_show(
    version: Annotated[str, typer.Argument(help="Version id (see `models list`).")],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Parameters, metrics, data fingerprint and training time of one version."""
    info = registry_for(data).show(version)
    for key in ("customer_encoder", "item_encoder", "selection"):
        if not as_json:
            info.pop(key, None)
    report(f"model {version}", info, as_json=as_json)


@models_app.command("activate")
def models_activate(
    version: Annotated[str, typer.Argument(help="Version id to make live.")],
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Make a version the active model (the previous one is kept for rollback)."""
    with audited(data, "models.activate", version) as detail:
        reg = registry_for(data)
        reg.activate(version)
        serving = detail["serving_version"] = _publish_active(data)
    report(
        "touchpoint models activate",
        {"active": reg.active(), "serving version": serving},
        as_json=as_json,
    )


@models_app.command("rollback")
def models_rollback(data: DataDir = Path("data"), as_json: JsonFlag = False) -> None:
    """Re-activate the previously active version."""
    with audited(data, "models.rollback", "active model") as detail:
        version = detail["active"] = registry_for(data).rollback()
        serving = detail["serving_version"] = _publish_active(data)
    report(
        "touchpoint models rollback",
        {"active": version, "serving version": serving},
        as_json=as_json,
    )


def _served_ndcg(metrics: dict[str, float]) -> float | None:
    """The served list's validation NDCG (the raw one for versions saved before it was kept)."""
    return metrics.get(SERVED + "ndcg", metrics.get("ndcg"))


def _publish_active(data: Path) -> str:
    """Serve the registry's active model (what activate/rollback promise)."""
    book = business_rules()
    tables = load_tables(data)
    return _redis_step(lambda: publish_model(data, tables, book))


def _redis_step(step: Callable[[], str]) -> str:
    try:
        return step()
    except (RedisError, OSError) as exc:
        raise Unavailable(f"could not publish to Redis: {exc}") from None


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)
    app.command("train")(train_command)
    app.add_typer(models_app, name="models")
