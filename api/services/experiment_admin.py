"""A/B experiment definitions and results for the admin routes (`api.routes.experiments`).

Reads go through the process's cached definitions (`api.services.experiment_serving`); a stored
change is re-read at once. Redis failures become `Unavailable` (503, retry); a definition
that cannot run raises `InvalidExperiment` naming the field.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from typing import Any

from redis.exceptions import RedisError

from api.problems import NotFound, Unavailable
from api.services.experiment_serving import ExperimentsRuntime, live_model
from experiments.errors import InvalidExperiment
from experiments.model import Experiment, merge_definitions, parse_experiment
from experiments.results import ExperimentResults, analyse_experiment
from experiments.strategy import named_models, unservable
from store.experiment_store import CustomerRows


async def definitions(runtime: ExperimentsRuntime, *, force: bool = False) -> dict[str, Any]:
    try:
        return await runtime.current(force=force)
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("experiment definitions are unavailable") from None


async def definition(runtime: ExperimentsRuntime, key: str) -> Experiment:
    """The stored definition of `key`, read fresh (404 when there is none)."""
    defs = await definitions(runtime, force=True)
    if key not in defs:
        raise NotFound(f"no experiment with key {key!r}")
    exp: Experiment = defs[key]
    return exp


async def save_definition(
    runtime: ExperimentsRuntime, data: dict[str, Any], *, profiles: Collection[str] | None
) -> Experiment:
    """Create or replace a definition (changed weights move as few customers as possible);
    `profiles`: the rules profiles in force, which a running variant may name."""
    incoming = parse_experiment(data, source="body")
    await _check_servable(runtime, incoming, profiles)
    existing = await definitions(runtime, force=True)
    (merged,) = merge_definitions(existing, [incoming], source="body")
    try:
        await runtime.store().save([merged])
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("the definition could not be stored; retry") from None
    await definitions(runtime, force=True)
    return merged


async def _check_servable(
    runtime: ExperimentsRuntime, exp: Experiment, profiles: Collection[str] | None
) -> None:
    """A running experiment's variants name servable models (the live one or a version
    publishing still keeps, read fresh) and existing rules profiles."""
    if exp.status != "running":  # a draft may name a model that is published before it starts
        return
    state = runtime.state
    others: dict[str, str] = {}
    if named_models([exp]) and state.reader is not None:
        try:
            others = await state.kept_names()
        except (RedisError, OSError) as exc:
            state.mark_unavailable(exc)
            raise Unavailable("the published versions could not be read; retry") from None
    live = live_model(state, others)
    for i, variant in enumerate(exp.variants):
        field = f"variants.{i}.strategy"
        problem = unservable(variant.strategy, live)
        if problem is not None:
            raise InvalidExperiment(f"body {exp.key!r}", problem, f"{field}.model")
        name = variant.strategy.rules_profile
        if name is not None and profiles is not None and name not in profiles:
            reason = f"no rules profile {name!r} (profiles/{name}.yaml in the rules directory)"
            raise InvalidExperiment(f"body {exp.key!r}", reason, f"{field}.rules_profile")


async def customer_rows(runtime: ExperimentsRuntime, key: str) -> CustomerRows:
    """The experiment's stored rows, one per exposed customer."""
    try:
        return await runtime.store().customer_rows(key)
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("experiment data is unavailable") from None


async def results(
    runtime: ExperimentsRuntime, exp: Experiment, rows: CustomerRows | None = None
) -> ExperimentResults:
    """Per-variant statistics over the experiment's stored customer rows (read unless given)."""
    if rows is None:
        rows = await customer_rows(runtime, exp.key)
    return await asyncio.to_thread(analyse_experiment, exp, rows)  # CPU: off the event loop
