"""The `touchpoint` command line: one Typer app; each command lives in its own module.

A command module exposes `register(app)`; `COMMAND_MODULES` lists them in help order.
Commands raise errors of the family in `contracts.errors` and never exit on their own: the
app's group turns an error into one line on stderr and an exit code, here and nowhere else.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

# implicit asks for single-threaded BLAS; it must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from rich.markup import escape
from typer.core import TyperGroup

from contracts.errors import Conflict, InvalidInput, NotFound, TouchpointError, Unavailable
from jobs.common import console

COMMAND_MODULES = (
    "jobs.generate_cmd",
    "jobs.run_cmd",
    "jobs.segment_cmd",
    "jobs.insights_cmd",
    "jobs.model_cmd",
    "jobs.recommend_cmd",
    "jobs.ingest_cmd",
    "jobs.erase_cmd",
    "jobs.keys_cmd",
    "jobs.audit_cmd",
    "jobs.experiments_cmd",
    "jobs.cases_cmd",
    "jobs.serve_cmd",
    "jobs.worker_cmd",
    "jobs.webhooks_cmd",
    "jobs.migrate_cmd",
)
BAD_INPUT, STEP_FAILED = 2, 1
EXIT_CODES: tuple[tuple[type[TouchpointError], int], ...] = (  # first match wins
    (InvalidInput, BAD_INPUT),  # with file, row, column and reason when a file is to blame
    (NotFound, BAD_INPUT),  # the user named a version, key or experiment that is not there
    (Conflict, STEP_FAILED),  # refused: a model worse than popularity, an ingest running
    (Unavailable, STEP_FAILED),  # Redis unreachable, the embedded server cannot start
    (TouchpointError, STEP_FAILED),
)


def exit_code(error: TouchpointError) -> int:
    return next(code for kind, code in EXIT_CODES if isinstance(error, kind))


def as_family(error: Exception) -> TouchpointError | None:
    """`error` as a family member: itself, Redis out of reach as `Unavailable`, else None."""
    if isinstance(error, TouchpointError):
        return error
    if isinstance(error, RedisConnectionError | RedisTimeoutError):
        return Unavailable(f"Redis: {error}")
    return None


class TouchpointGroup(TyperGroup):
    """Every command, and every sub-command of `keys`, `models`, `experiments`, runs inside
    `invoke`: a family error leaves as `error: <message>` and its exit code, no traceback."""

    def invoke(self, ctx: Any) -> Any:  # a Context of the click that typer vendors
        try:
            return super().invoke(ctx)
        except Exception as exc:
            error = as_family(exc)
            if error is None:
                raise
            console.print(f"[bold red]error:[/] {escape(str(error))}")
            raise typer.Exit(exit_code(error)) from None


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="touchpoint",
        help="Touchpoint: personalisation and recommendations for every customer touchpoint.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
        cls=TouchpointGroup,
    )
    app.callback()(lambda: None)  # always a command group, even with one command
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    build_app()()
