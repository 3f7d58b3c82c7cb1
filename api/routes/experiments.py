"""A/B experiments over HTTP, and the two hooks the serving and event routes call.

- `GET /v1/experiments`, `GET|PUT /v1/experiments/{key}`: definitions
- `GET /v1/experiments/{key}/assignment/{customer_id}`: the variant, computed in-process
- `GET /v1/experiments/{key}/results` (`format=csv` for CSV): the statistics
- `serving_plan(...)`: the serving path's variants and what their strategies change
  (popular lists only, a rules profile, an earlier serving version), decided in-process
  before ranking
- `tag_experiments(...)`: the serving path adds `experiments: [{key, variant}]` to its
  response and gets a background task recording the exposure when something was served
- `record_conversions(...)`: the event intake attributes new conversions to experiments
Definitions are cached per process (per `ServingState`) and re-read only when their stored
revision changes, checked at most every `refresh_seconds`; then the serving state loads the
earlier serving versions the running variants name (`ServingState.want`).
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Path, Query, Request
from redis.exceptions import RedisError
from starlette.responses import Response

from api.problems import Invalid, NotFound, Unavailable
from api.responses import OrjsonResponse
from api.state import ServingState
from experiments.assignment import Assignment, assign, assign_all
from experiments.errors import InvalidExperiment
from experiments.export import to_csv
from experiments.model import Experiment, merge_definitions, parse_experiment
from experiments.results import analyse_experiment
from experiments.strategy import (
    LiveModel,
    Plan,
    candidates,
    named_models,
    plan_for,
    unservable,
)
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
        if not force and now - self._checked < self.state.settings.refresh_seconds:
            return self.definitions
        # stamped before the read: while Redis is down, requests keep the last definitions
        # instead of each paying a timeout
        self._checked = now
        if not force and not self.state.redis_ok:
            return self.definitions
        store = self.store()
        revision = await store.revision()
        if revision != self.revision:
            self.definitions = await store.definitions()
            self.revision = revision
            await self.state.want(named_models(self.definitions.values()))
        return self.definitions


_runtimes: weakref.WeakKeyDictionary[ServingState, ExperimentsRuntime] = weakref.WeakKeyDictionary()


def runtime_for(state: ServingState) -> ExperimentsRuntime:
    """The runtime of this API process (one per serving state)."""
    runtime = _runtimes.get(state)
    if runtime is None:
        runtime = _runtimes[state] = ExperimentsRuntime(state)
    return runtime


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
    try:
        incoming = parse_experiment(data, source="body")
        await _check_servable(request, incoming)
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


def live_model(state: ServingState, others: dict[str, str] | None = None) -> LiveModel:
    """The live model; `others` (default: the versions the state holds) the other servable."""
    shared = state.shared
    others = state.other_names if others is None else others
    if shared is None:
        return LiveModel(others=others)
    name, version = shared.model.get("name"), shared.model.get("version")
    return LiveModel(shared.version, name and str(name), version and str(version), others)


async def serving_definitions(state: ServingState) -> dict[str, Experiment]:
    """The cached definitions (a Redis GET at most every `refresh_seconds`); never fails."""
    runtime = runtime_for(state)
    try:
        return await runtime.current()
    except (RedisError, OSError, Unavailable) as exc:
        log.warning("experiment definitions unavailable: %s", exc)
        return runtime.definitions


# Work after the answer is sent (exposures, impressions): FastAPI routes hand it to the
# response as a `BackgroundTask`, the fast path awaits it once the answer is out.
After = Callable[[], Awaitable[None]]
_noted: set[str] = set()


def serving_plan(
    state: ServingState,
    definitions: dict[str, Experiment],
    *,
    customer_id: str,
    channel: str | None,
    segments: Sequence[str] | None,
    profiles: Collection[str],
) -> Plan:
    """The customer's variants and their combined strategy (in-process: hashes only).

    `segments=None` before the customer is read: every segment targeting counts as met, so
    the plan covers what the customer can end up with (e.g. the cap windows to read).
    """
    if not definitions:
        return Plan()
    found = candidates(
        definitions.values(), customer_id=customer_id, channel=channel, segments=segments
    )
    plan = plan_for(definitions, found, live_model(state), profiles)
    for note in plan.notes:
        if note not in _noted and len(_noted) < 1000:  # each problem logged once per process
            _noted.add(note)
            log.warning("%s", note)
    return plan


async def tag_experiments(
    state: ServingState,
    head: dict[str, Any],
    *,
    customer_id: str,
    channel: str | None,
    segments: Sequence[str] = (),
    served: bool,
    found: Sequence[Assignment] | None = None,
) -> After | None:
    """Set `head["experiments"]` to the customer's live experiments and variants (`found`
    when already assigned); return the task recording the exposure, or None when nothing
    was `served` (or no experiment applies).

    Never fails the response: with Redis down, the cached definitions still tag it.
    """
    runtime = runtime_for(state)
    head["experiments"] = []
    if found is None:
        defs = await serving_definitions(state)
        found = assign_all(
            defs.values(), customer_id=customer_id, channel=channel, segments=segments
        )
    head["experiments"] = [{"key": a.experiment, "variant": a.variant} for a in found]
    if not found or not served or state.client is None:
        return None
    exposure = [Served(a.experiment, str(a.variant)) for a in found]
    recommendation_id = head.get("recommendation_id")
    stamp = time.time()

    async def record() -> None:
        try:
            await runtime.store().record_exposure(
                customer_id=customer_id,
                served=exposure,
                recommendation_id=recommendation_id,
                timestamp=stamp,
            )
        except (RedisError, OSError, Unavailable) as exc:
            log.warning("experiment exposure not recorded: %s", exc)

    return record


def chain(*tasks: After | None) -> After | None:
    """Several optional after-the-answer tasks as one (run in order)."""
    present = [t for t in tasks if t is not None]
    if len(present) <= 1:
        return present[0] if present else None

    async def run_all() -> None:
        for task in present:
            await task()

    return run_all


async def record_conversions(state: ServingState, events: Sequence[Any]) -> None:
    """Attribute new conversion events (objects with the events-contract fields)."""
    conversions = [
        ConversionEvent(
            customer_id=e.customer_id,
            type=e.type,
            timestamp=e.timestamp.astimezone(UTC).timestamp(),
            value=float(e.value or 0.0) if e.type == "purchase" else 0.0,
            recommendation_id=e.recommendation_id or None,
            event_id=e.event_id,
        )
        for e in events
        if e.type in CONVERSION_TYPES
    ]
    if not conversions:
        return
    runtime = runtime_for(state)
    try:
        defs = await runtime.current()
        if defs:
            await runtime.store().record_conversions(conversions, defs)
    except (RedisError, OSError, Unavailable) as exc:
        log.warning("experiment conversions not recorded: %s", exc)
