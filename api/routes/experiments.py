"""A/B experiments over HTTP, and the two hooks the serving and event routes call.

- `GET /v1/experiments`, `GET|PUT /v1/experiments/{key}`: definitions
- `GET /v1/experiments/{key}/assignment/{customer_id}`: the variant, computed in-process
- `GET /v1/experiments/{key}/results` (`format=csv` for CSV): the statistics
- `tag_and_record(...)`: a serving route adds `experiments: [{key, variant}]` to its response
  and records the exposure when it served something
- `record_conversions(...)`: the event intake attributes conversions to experiments
Definitions are cached per process and re-read only when their stored revision changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from api.problems import Invalid, NotFound, Unavailable
from api.responses import OrjsonResponse
from api.state import ServingState
from experiments.assignment import assign, assign_all
from experiments.errors import InvalidExperiment
from experiments.export import to_csv
from experiments.model import Experiment, merge_definitions, parse_experiment
from experiments.results import analyse_experiment
from store.experiments import AsyncExperimentStore, ConversionEvent, Served

log = logging.getLogger("touchpoint.api")
router = APIRouter(prefix="/v1/experiments", tags=["experiments"])

CONVERSION_TYPES = frozenset({"click", "add_to_cart", "purchase", "redeem"})
Key = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
CustomerId = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^{}\s]+$")]
Channel = Literal["web", "app", "email", "push", "store", "call_centre"]


class ExperimentsRuntime:
    """One process's view of the definitions: re-read when the revision moved."""

    def __init__(self, state: ServingState) -> None:
        self.state = state
        self.revision = -1
        self.definitions: dict[str, Experiment] = {}
        self._checked = 0.0

    def store(self) -> AsyncExperimentStore:
        if self.state.client is None:
            raise Unavailable("Redis is not connected")
        return AsyncExperimentStore(self.state.client, self.state.keys)

    async def current(self, *, force: bool = False) -> dict[str, Experiment]:
        """Definitions, checking the revision at most every `refresh_seconds` (one GET)."""
        now = time.monotonic()
        if force or now - self._checked >= self.state.settings.refresh_seconds:
            store = self.store()
            revision = await store.revision()
            if revision != self.revision:
                self.definitions = await store.definitions()
                self.revision = revision
            self._checked = now
        return self.definitions


def get_runtime(request: Request) -> ExperimentsRuntime:
    runtime: ExperimentsRuntime | None = getattr(request.app.state, "experiments", None)
    if runtime is None:
        runtime = ExperimentsRuntime(request.app.state.serving)
        request.app.state.experiments = runtime
    return runtime


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
    try:
        incoming = parse_experiment(data, source="body")
        existing = await _definitions(runtime, force=True)
        (merged,) = merge_definitions(existing, [incoming], source="body")
    except InvalidExperiment as exc:
        raise Invalid(exc.reason, field=exc.field) from None
    try:
        await runtime.store().save([merged])
    except (RedisError, OSError) as exc:
        runtime.state.mark_unavailable(exc)
        raise Unavailable("the definition could not be stored; retry") from None
    await _definitions(runtime, force=True)
    return OrjsonResponse(merged.model_dump(mode="json"))


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


async def tag_and_record(
    request: Request,
    body: dict[str, Any],
    *,
    customer_id: str,
    channel: str | None,
    segments: Sequence[str] = (),
    served: bool | None = None,
) -> None:
    """Add the customer's live experiments to `body["experiments"]`; record the exposure
    only when something was served (`served`, default: `body["items"]` is not empty).

    Never fails the response: with Redis down, the response goes out without experiments.
    """
    runtime = get_runtime(request)
    body["experiments"] = []
    try:
        defs = await runtime.current()
        found = assign_all(
            defs.values(), customer_id=customer_id, channel=channel, segments=segments
        )
        body["experiments"] = [{"key": a.experiment, "variant": a.variant} for a in found]
        if found and (served if served is not None else bool(body.get("items"))):
            await runtime.store().record_exposure(
                customer_id=customer_id,
                served=[Served(a.experiment, str(a.variant)) for a in found],
                recommendation_id=body.get("recommendation_id"),
                timestamp=time.time(),
            )
    except (RedisError, OSError, Unavailable) as exc:
        log.warning("experiment exposure not recorded: %s", exc)


async def record_conversions(request: Request, events: Sequence[Any]) -> None:
    """Attribute new conversion events (objects with the events-contract fields)."""
    conversions = [
        ConversionEvent(
            customer_id=e.customer_id,
            type=e.type,
            timestamp=e.timestamp.astimezone(UTC).timestamp()
            if isinstance(e.timestamp, datetime)
            else float(e.timestamp),
            value=float(e.value or 0.0) if e.type == "purchase" else 0.0,
            recommendation_id=e.recommendation_id or None,
            event_id=e.event_id,
        )
        for e in events
        if e.type in CONVERSION_TYPES
    ]
    if not conversions:
        return
    runtime = get_runtime(request)
    try:
        defs = await runtime.current()
        if defs:
            await runtime.store().record_conversions(conversions, defs)
    except (RedisError, OSError, Unavailable) as exc:
        log.warning("experiment conversions not recorded: %s", exc)
