"""The `touchpoint` command line: one Typer app; each command lives in its own module.

A command module exposes `register(app)`; `COMMAND_MODULES` lists them in help order.
"""

from __future__ import annotations

import importlib
import os

# implicit asks for single-threaded BLAS; it must be set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import typer

COMMAND_MODULES = (
    "jobs.generate_cmd",
    "jobs.run_cmd",
    "jobs.segment_cmd",
    "jobs.model_cmd",
    "jobs.recommend_cmd",
    "jobs.ingest_cmd",
    "jobs.keys_cmd",
    "jobs.experiments_cmd",
    "jobs.serve_cmd",
)


def build_app() -> typer.Typer:
    app = typer.Typer(
        name="touchpoint",
        help="Touchpoint: personalisation and recommendations for every customer touchpoint.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(lambda: None)  # always a command group, even with one command
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    return app


def main() -> None:
    from store.embedded import EmbeddedRedisError

    try:
        build_app()()
    except EmbeddedRedisError as exc:  # the machine's Redis, not the command: no traceback
        from jobs.common import fail

        raise SystemExit(fail(str(exc), code=1).exit_code) from None
