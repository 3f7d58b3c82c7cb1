"""What a customer's variants change in serving, decided in-process before ranking.

A variant's `Strategy` (see `model.py`) is applied to the answer:
- `model: popularity` (or `popular`): no personal candidates, no fresh fold-in, no similar
  items; the segment/channel/kind/global popular lists only (the "personalised vs popular"
  test);
- `rules_profile: NAME`: the rules profile `profiles/NAME.yaml` of the rules directory is
  merged over the usual `default` → `<channel>` → `<channel>.<placement>` rules;
- `model: <the live model>` (its family name, model version or serving version), `live` or
  no model: the live model, as without an experiment;
- `model: <an earlier serving version>` (its serving version or registry model version, while
  publishing still keeps it: `LiveModel.others`): that version's candidates and shared data
  (`Plan.serving_version`; the API holds a few such versions in memory next to the live one).
Any other model cannot be served: the API rejects such a definition (`unservable`); if one is
stored anyway (the YAML CLI, or the version was retired since), the variant serves its
`fallback` (`popular` → popular lists, anything else → the live model) and the answer
carries a note the API logs once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from experiments.assignment import Assignment, assign_all
from experiments.model import Experiment, Strategy

POPULARITY = frozenset({"popularity", "popular"})
LIVE = "live"


@dataclass(frozen=True)
class LiveModel:
    """What the API serves now: the serving version and the model's family name and version;
    `others` maps the names of other servable versions (serving version, registry model
    version) to their serving version."""

    serving_version: str | None = None
    name: str | None = None
    version: str | None = None
    others: Mapping[str, str] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.serving_version, self.name, self.version) if n)


@dataclass(frozen=True)
class Plan:
    """How to serve one answer: the customer's assignments and what their strategies need."""

    assignments: tuple[Assignment, ...] = ()
    popular_only: bool = False
    rules_profile: str | None = None
    serving_version: str | None = None  # another serving version to serve (None: the live one)
    notes: tuple[str, ...] = ()  # strategies that could not be served as defined


def unservable(strategy: Strategy, live: LiveModel) -> str | None:
    """Why `strategy`'s model cannot be served next to `live`, or None when it can."""
    model = strategy.model
    if model is None or model == LIVE or model in POPULARITY or model in live.names:
        return None
    if model in live.others:
        return None
    serving = ", ".join(sorted(live.names)) or "nothing published yet"
    kept = ", ".join(sorted(live.others)) or "none"
    return (
        f"model {model!r} is not the live model ({serving}) nor a version publishing still "
        f"keeps ({kept}): use `live`, `popularity`, the live model or a kept version"
    )


def other_version(strategy: Strategy, live: LiveModel) -> str | None:
    """The serving version `strategy` names when it is a kept version other than the live one."""
    model = strategy.model
    if model is None or model in live.names:
        return None
    return live.others.get(model)


def candidates(
    experiments: Iterable[Experiment],
    *,
    customer_id: str,
    channel: str | None,
    segments: Sequence[str] | None,
    now: datetime | None = None,
) -> list[Assignment]:
    """The customer's live assignments; `segments=None` (not read yet) takes every segment
    targeting as met, so the result holds every assignment the customer can end up with."""
    exps = list(experiments)
    if segments is None:
        segments = sorted({s for e in exps for s in e.targeting.segments})
    return assign_all(exps, customer_id=customer_id, channel=channel, segments=segments, now=now)


def plan_for(
    experiments: Mapping[str, Experiment],
    assignments: Sequence[Assignment],
    live: LiveModel,
    profiles: Collection[str] | None = None,
) -> Plan:
    """Combine the strategies of the customer's variants (at most one per layer).

    Popularity wins if any variant asks for it (then the live version's popular lists
    serve); two different rules profiles or model versions cannot both apply, so the
    experiment first by key wins and the other is noted. A profile missing from `profiles`
    (None = not checked) is noted and ignored.
    """
    popular, profile, version, notes = False, None, None, []
    for found in sorted(assignments, key=lambda a: a.experiment):
        if found.variant is None or found.experiment not in experiments:
            continue
        strategy = experiments[found.experiment].variant(found.variant).strategy
        label = f"experiment {found.experiment!r} variant {found.variant!r}"
        problem = unservable(strategy, live)
        if problem is not None:
            notes.append(f"{label}: {problem}; serving its fallback {strategy.fallback!r}")
            popular = popular or strategy.fallback in POPULARITY
        else:
            popular = popular or strategy.model in POPULARITY
            other = other_version(strategy, live)
            if other is not None and version is None:
                version = other
            elif other is not None and other != version:
                notes.append(f"{label}: model {strategy.model!r} ignored, {version!r} applies")
        wanted = strategy.rules_profile
        if wanted is None:
            continue
        if profiles is not None and wanted not in profiles:
            notes.append(f"{label}: no rules profile {wanted!r} (profiles/{wanted}.yaml)")
        elif profile is None:
            profile = wanted
        elif wanted != profile:
            notes.append(f"{label}: rules profile {wanted!r} ignored, {profile!r} applies")
    version = None if popular else version
    return Plan(tuple(assignments), popular, profile, version, tuple(notes))


def named_models(experiments: Iterable[Experiment]) -> frozenset[str]:
    """Every model the running experiments' variants name (besides `live` and popularity):
    the versions the API may have to hold in memory next to the live one."""
    return frozenset(
        v.strategy.model
        for e in experiments
        if e.status == "running"
        for v in e.variants
        if v.strategy.model and v.strategy.model != LIVE and v.strategy.model not in POPULARITY
    )
