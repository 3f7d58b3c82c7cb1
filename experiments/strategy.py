"""What a customer's variants change in serving, decided in-process before ranking.

A variant's `Strategy` (see `model.py`) is applied to the answer:
- `model: popularity` (or `popular`): no personal candidates, no fresh fold-in, no similar
  items; the segment/channel/kind/global popular lists only (the "personalised vs popular"
  test);
- `rules_profile: NAME`: the rules profile `profiles/NAME.yaml` of the rules directory is
  merged over the usual `default` → `<channel>` → `<channel>.<placement>` rules;
- `model: <the live model>` (its family name, model version or serving version), `live` or
  no model: the live model, as without an experiment.
Publishing serves one model version at a time, so any other model cannot be served: the API
rejects such a definition (`unservable`); if one is stored anyway (the YAML CLI, or a publish
switched the live model since), the variant serves its `fallback` (`popular` → popular
lists, anything else → the live model) and the answer carries a note the API logs once.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from experiments.assignment import Assignment, assign_all
from experiments.model import Experiment, Strategy

POPULARITY = frozenset({"popularity", "popular"})
LIVE = "live"


@dataclass(frozen=True)
class LiveModel:
    """What the API serves now: the serving version and the model's family name and version."""

    serving_version: str | None = None
    name: str | None = None
    version: str | None = None

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in (self.serving_version, self.name, self.version) if n)


@dataclass(frozen=True)
class Plan:
    """How to serve one answer: the customer's assignments and what their strategies need."""

    assignments: tuple[Assignment, ...] = ()
    popular_only: bool = False
    rules_profile: str | None = None
    notes: tuple[str, ...] = ()  # strategies that could not be served as defined


def unservable(strategy: Strategy, live: LiveModel) -> str | None:
    """Why `strategy`'s model cannot be served next to `live`, or None when it can."""
    model = strategy.model
    if model is None or model == LIVE or model in POPULARITY or model in live.names:
        return None
    serving = ", ".join(sorted(live.names)) or "nothing published yet"
    return (
        f"model {model!r} is not the live model ({serving}); serving more than one model "
        f"version at once is not supported: use `live`, `popularity` or the live model"
    )


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

    Popularity wins if any variant asks for it; two different rules profiles cannot both
    apply, so the experiment first by key wins and the other is noted. A profile missing
    from `profiles` (None = not checked) is noted and ignored.
    """
    popular, profile, notes = False, None, []
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
        wanted = strategy.rules_profile
        if wanted is None:
            continue
        if profiles is not None and wanted not in profiles:
            notes.append(f"{label}: no rules profile {wanted!r} (profiles/{wanted}.yaml)")
        elif profile is None:
            profile = wanted
        elif wanted != profile:
            notes.append(f"{label}: rules profile {wanted!r} ignored, {profile!r} applies")
    return Plan(tuple(assignments), popular, profile, tuple(notes))
