"""A/B experiments over HTTP (the serving path's hooks: `api.services.experiment_serving`).

- `GET /v1/experiments`, `GET|PUT /v1/experiments/{key}`: definitions
- `GET /v1/experiments/{key}/assignment/{customer_id}`: the variant, computed in-process
- `GET /v1/experiments/{key}/results` (`format=csv` for CSV): the statistics
"""

from __future__ import annotations

from typing import Annotated, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.responses import Response

from api.auth import actor
from api.deps import AppParts, PartsDep, get_state
from api.fields import Channel, CustomerIdPath
from api.problems import Invalid, status_of
from api.responses import OrjsonResponse
from api.services import experiment_admin as admin
from api.services.audit import record_audit
from api.services.experiment_serving import ExperimentsRuntime, runtime_for
from api.services.identity import assignment_unit
from api.state import ServingState
from contracts.errors import TouchpointError
from experiments.assignment import assign
from experiments.export import to_csv
from experiments.model import Experiment

router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

Key = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


async def get_runtime(state: Annotated[ServingState, Depends(get_state)]) -> ExperimentsRuntime:
    return runtime_for(state)


RuntimeDep = Annotated[ExperimentsRuntime, Depends(get_runtime)]


@router.get("")
async def list_experiments(runtime: RuntimeDep) -> Response:
    """Every stored definition."""
    defs = await admin.definitions(runtime, force=True)
    return OrjsonResponse([e.model_dump(mode="json") for e in defs.values()])


@router.get("/{key}")
async def get_experiment(runtime: RuntimeDep, key: Key) -> Response:
    return OrjsonResponse((await admin.definition(runtime, key)).model_dump(mode="json"))


@router.put("/{key}")
async def put_experiment(
    request: Request, runtime: RuntimeDep, parts: PartsDep, key: Key
) -> Response:
    """Create or replace a definition; changed weights move as few customers as possible.
    Recorded in the audit trail, refused or not."""
    audit = {"who": actor(request), "action": "experiments.put", "target": key}
    try:
        merged = await _save(request, runtime, parts, key)
    except TouchpointError as exc:
        outcome = "refused" if status_of(exc)[0] < 500 else "failed"
        await record_audit(parts.serving, **audit, outcome=outcome, detail=exc.detail)
        raise
    detail = {"status": merged.status, "weights": merged.weights}
    await record_audit(parts.serving, **audit, outcome="ok", detail=detail)
    return OrjsonResponse(merged.model_dump(mode="json"))


async def _save(
    request: Request, runtime: ExperimentsRuntime, parts: AppParts, key: str
) -> Experiment:
    try:
        data = orjson.loads(await request.body())
    except orjson.JSONDecodeError as exc:
        raise Invalid(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise Invalid("the body must be an experiment definition (a JSON object)")
    if data.setdefault("key", key) != key:
        raise Invalid(f"the body's key {data['key']!r} differs from the path's {key!r}")
    return await admin.save_definition(runtime, data, profiles=parts.rules.current().profiles)


@router.get("/{key}/assignment/{customer_id}")
async def get_assignment(
    runtime: RuntimeDep,
    key: Key,
    customer_id: CustomerIdPath,
    channel: Channel | None = None,
    segments: Annotated[str | None, Query(max_length=1024, description="comma-separated")] = None,
) -> Response:
    """The customer's variant now (one Redis read: whether an identity merge made the
    variants follow a visitor's id, `assigned_as`)."""
    exp = await admin.definition(runtime, key)
    unit = await assignment_unit(runtime.state, customer_id)
    found = assign(
        exp,
        customer_id=unit or customer_id,
        channel=channel,
        segments=[s for s in (segments or "").split(",") if s],
    )
    strategy = exp.variant(found.variant).strategy.model_dump() if found.variant else None
    body = {"experiment": key, "customer_id": customer_id, "variant": found.variant,
            "reason": found.reason, "strategy": strategy, "assigned_as": unit}  # fmt: skip
    return OrjsonResponse(body)


@router.get("/{key}/results")
async def get_results(
    runtime: RuntimeDep, key: Key, format: Literal["json", "csv"] = "json"
) -> Response:
    """Per-variant results: lifts with 95% CIs, p-values, P(beat control), SRM, CUPED, power."""
    exp = await admin.definition(runtime, key)
    results = await admin.results(runtime, exp)
    if format == "csv":
        headers = {"content-disposition": f'attachment; filename="{key}-results.csv"'}
        return Response(to_csv(results), media_type="text/csv", headers=headers)
    return OrjsonResponse({"experiment": key, "status": exp.status, **results.as_dict()})
