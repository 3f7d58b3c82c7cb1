"""A/B experiments over HTTP (the serving path's hooks: `api.services.experiments`).

- `GET /v1/experiments`, `GET|PUT /v1/experiments/{key}`: definitions
- `GET /v1/experiments/{key}/assignment/{customer_id}`: the variant, computed in-process
- `GET /v1/experiments/{key}/results` (`format=csv` for CSV): the statistics
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from api.problems import Invalid, NotFound, Unavailable
from api.responses import OrjsonResponse
from api.services.experiments import ExperimentsRuntime, live_model, runtime_for
from api.state import ServingState
from experiments.assignment import assign
from experiments.errors import InvalidExperiment
from experiments.export import to_csv
from experiments.model import Experiment, merge_definitions, parse_experiment
from experiments.results import analyse_experiment
from experiments.strategy import named_models, unservable

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

Key = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
CustomerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}\s]+$")]
Channel = Literal["web", "app", "email", "push", "store", "call_centre"]


def get_runtime(request: Request) -> ExperimentsRuntime:
    return runtime_for(request.app.state.serving)


RuntimeDep = Annotated[ExperimentsRuntime, Depends(get_runtime)]


async def _definitions(runtime: ExperimentsRuntime, *, force: bool = False) -> dict[str, Any]:
    try:
        return await runtime.current(force=force)
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("experiment definitions are unavailable") from None


async def _get(runtime: ExperimentsRuntime, key: str) -> Experiment:
    defs = await _definitions(runtime, force=True)
    if key not in defs:
        raise NotFound(f"no experiment with key {key!r}")
    exp: Experiment = defs[key]
    return exp


@router.get("")
async def list_experiments(runtime: RuntimeDep) -> Response:
    """Every stored definition."""
    defs = await _definitions(runtime, force=True)
    return OrjsonResponse([e.model_dump(mode="json") for e in defs.values()])


@router.get("/{key}")
async def get_experiment(runtime: RuntimeDep, key: Key) -> Response:
    return OrjsonResponse((await _get(runtime, key)).model_dump(mode="json"))


@router.put("/{key}")
async def put_experiment(request: Request, runtime: RuntimeDep, key: Key) -> Response:
    """Create or replace a definition; changed weights move as few customers as possible."""
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be an experiment definition (a JSON object)")
    if data.setdefault("key", key) != key:
        raise Invalid(f"the body's key {data['key']!r} differs from the path's {key!r}")
    incoming = parse_experiment(data, source="body")  # InvalidExperiment: a 422 naming the field
    await _check_servable(request, incoming)
    existing = await _definitions(runtime, force=True)
    (merged,) = merge_definitions(existing, [incoming], source="body")
    try:
        await runtime.store().save([merged])
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("the definition could not be stored; retry") from None
    await _definitions(runtime, force=True)
    return OrjsonResponse(merged.model_dump(mode="json"))


async def _check_servable(request: Request, exp: Experiment) -> None:
    """A running experiment's variants name servable models (the live one or a version
    publishing still keeps, read fresh) and existing rules profiles."""
    if exp.status != "running":  # a draft may name a model that is published before it starts
        return
    state: ServingState = request.app.state.serving
    others: dict[str, str] = {}
    if named_models([exp]) and state.reader is not None:
        try:
            others = await state.kept_names()
        except (RedisError, OSError) as exc:
            state.mark_unavailable(exc)
            raise Unavailable("the published versions could not be read; retry") from None
    live = live_model(state, others)
    watcher = getattr(request.app.state, "rules", None)
    profiles = watcher.current().profiles if watcher is not None else None
    for i, variant in enumerate(exp.variants):
        field = f"variants.{i}.strategy"
        problem = unservable(variant.strategy, live)
        if problem is not None:
            raise InvalidExperiment(f"body {exp.key!r}", problem, f"{field}.model")
        name = variant.strategy.rules_profile
        if name is not None and profiles is not None and name not in profiles:
            reason = f"no rules profile {name!r} (profiles/{name}.yaml in the rules directory)"
            raise InvalidExperiment(f"body {exp.key!r}", reason, f"{field}.rules_profile")


@router.get("/{key}/assignment/{customer_id}")
async def get_assignment(
    runtime: RuntimeDep,
    key: Key,
    customer_id: CustomerId,
    channel: Channel | None = None,
    segments: Annotated[str | None, Query(max_length=1024, description="comma-separated")] = None,
) -> Response:
    """The customer's variant now (no Redis round trip beyond the cached definitions)."""
    exp = await _get(runtime, key)
    found = assign(
        exp,
        customer_id=customer_id,
        channel=channel,
        segments=[s for s in (segments or "").split(",") if s],
    )
    strategy = exp.variant(found.variant).strategy.model_dump() if found.variant else None
    body = {"experiment": key, "customer_id": customer_id, "variant": found.variant,
            "reason": found.reason, "strategy": strategy}  # fmt: skip
    return OrjsonResponse(body)


@router.get("/{key}/results")
async def get_results(
    runtime: RuntimeDep, key: Key, format: Literal["json", "csv"] = "json"
) -> Response:
    """Per-variant results: lifts with 95% CIs, p-values, P(beat control), SRM, CUPED, power."""
    exp = await _get(runtime, key)
    try:
        rows = await runtime.store().customer_rows(key)
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("experiment data is unavailable") from None
    results = await asyncio.to_thread(analyse_experiment, exp, rows)  # CPU: off the event loop
    if format == "csv":
        headers = {"content-disposition": f'attachment; filename="{key}-results.csv"'}
        return Response(to_csv(results), media_type="text/csv", headers=headers)
    return OrjsonResponse({"experiment": key, "status": exp.status, **results.as_dict()})
