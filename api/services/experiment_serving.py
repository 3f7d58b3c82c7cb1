"""A/B experiments on the serving path: the hooks the answers and the event intake call.

- `serving_plan(...)`: the serving path's variants and what their strategies change
  (popular lists only, a rules profile, an earlier serving version), decided in-process
  before ranking
- `tag_experiments(...)`: the serving path adds `experiments: [{key, variant}]` to its
  response and gets a background task recording the exposure when something was served
- `record_conversions(...)`: the event intake attributes new conversions to experiments
Definitions are cached per process (per `ServingState`) and re-read only when their stored
revision changes, checked at most every `refresh_seconds`; then the serving state loads the
earlier serving versions the running variants name (`ServingState.want`). The HTTP routes
over the definitions and results are `api.routes.experiments` (`api.services.experiment_admin`).
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC
from typing import Any

from redis.exceptions import RedisError

from api.problems import Unavailable
from api.state import ServingState
from contracts.schema import CONVERSION_TYPES
from experiments.assignment import Assignment, assign_all
from experiments.model import Experiment
from experiments.strategy import LiveModel, Plan, candidates, named_models, plan_for
from store.experiment_store import AsyncExperimentStore, ConversionEvent, Served

log = logging.getLogger("touchpoint.api")


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


# Work after the answer is sent (recording exposures): FastAPI routes hand it to the
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
