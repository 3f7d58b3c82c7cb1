"""Experiment definitions: what is compared, on whom, when, and how buckets map to variants.

Definitions come from YAML (`load_experiments`) or JSON (the API, the store); every rule
broken gives an `InvalidExperiment` naming the experiment and the field.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from contracts.schema import CHANNELS
from experiments.allocation import (
    BUCKETS,
    Allocation,
    allocated,
    bucket_counts,
    check_allocation,
    initial_allocation,
    reallocate,
)
from experiments.errors import InvalidExperiment

Slug = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Status = Literal["draft", "running", "stopped"]
ConversionType = Literal["click", "add_to_cart", "purchase", "redeem"]
MAX_ATTRIBUTION_WINDOW_HOURS = 24 * 90  # the longest attribution window a definition may set


class Strategy(BaseModel):
    """How a variant builds its recommendations."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str | None = Field(
        default=None,
        description="`popularity`, `live` (= None) or the live model's family or version.",
    )
    rules_profile: Slug | None = Field(
        default=None, description="Rules profile: `profiles/NAME.yaml` of the rules directory."
    )
    fallback: str = Field(default="popular", description="What to serve when the model cannot.")


class Variant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: Slug
    weight: float = Field(gt=0, le=100, description="Percent of the experiment's traffic.")
    strategy: Strategy = Strategy()


class Targeting(BaseModel):
    """Who can enter: empty lists mean every channel / every customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channels: tuple[str, ...] = ()
    segments: tuple[str, ...] = ()

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        unknown = sorted(set(channels) - set(CHANNELS))
        if unknown:
            raise ValueError(f"unknown channel(s) {unknown}; expected some of {list(CHANNELS)}")
        return channels


class Experiment(BaseModel):
    """One experiment; `allocation` is derived from the weights unless given (`allocation.py`)."""

    model_config = ConfigDict(extra="forbid")

    key: Slug
    description: str = ""
    status: Status = "draft"
    variants: tuple[Variant, ...] = Field(min_length=2)
    control: str
    targeting: Targeting = Targeting()
    start: datetime | None = None
    stop: datetime | None = None
    layer: Slug | None = Field(
        default=None, description="Same layer = mutually exclusive; None = key."
    )
    layer_buckets: tuple[int, int] = Field(
        default=(0, BUCKETS), description="The experiment's share `[start, end)` of its layer."
    )
    salt: str | None = Field(default=None, description="Variant hash salt; None = the key.")
    holdout_percent: float = Field(default=0.0, ge=0, lt=100)
    mde: float = Field(default=0.05, gt=0, le=10, description="Relative minimum detectable effect.")
    attribution_window_hours: float = Field(default=24.0, gt=0, le=MAX_ATTRIBUTION_WINDOW_HOURS)
    conversion_types: tuple[ConversionType, ...] = Field(default=("purchase",), min_length=1)
    allocation: Allocation | None = None

    @field_validator("start", "stop")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # naive times are read as UTC
        return value

    @model_validator(mode="after")
    def _consistent(self) -> Experiment:
        names = [v.name for v in self.variants]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"variant names must be unique; repeated: {duplicates}")
        if self.control not in names:
            raise ValueError(f"control {self.control!r} is not one of the variants {names}")
        total = sum(v.weight for v in self.variants)
        if not math.isclose(total, 100.0, abs_tol=1e-6):
            raise ValueError(f"variant weights must sum to 100, not {total:g}")
        lo, hi = self.layer_buckets
        if not 0 <= lo < hi <= BUCKETS:
            raise ValueError(f"layer_buckets must satisfy 0 <= start < end <= {BUCKETS}")
        if self.start and self.stop and self.stop <= self.start:
            raise ValueError("stop must be after start")
        counts = bucket_counts(self.weights)
        if self.allocation is None:
            self.allocation = initial_allocation(counts)
        elif set(self.allocation) != set(names):
            raise ValueError("allocation must name exactly the variants")
        elif any(allocated(self.allocation[n]) != counts[n] for n in names):
            raise ValueError("allocation does not match the weights; drop it to recompute")
        problem = check_allocation(self.allocation)
        if problem:
            raise ValueError(f"allocation: {problem}")
        return self

    @property
    def weights(self) -> dict[str, float]:
        return {v.name: v.weight for v in self.variants}

    @property
    def layer_name(self) -> str:
        return self.layer or self.key

    @property
    def variant_salt(self) -> str:
        return self.salt or self.key

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def is_live(self, now: datetime) -> bool:
        """Running, and `now` inside `[start, stop)`."""
        if self.status != "running":
            return False
        return (self.start is None or self.start <= now) and (self.stop is None or now < self.stop)

    def succeeding(self, previous: Experiment) -> Experiment:
        """This definition, with buckets moved from `previous` as little as the new weights allow.

        Use when a definition replaces a stored one: customers keep their variant unless
        the weight change forces them to move.
        """
        assert previous.allocation is not None
        data = self.model_dump()
        data["allocation"] = reallocate(previous.allocation, bucket_counts(self.weights))
        return Experiment.model_validate(data)


def check_layers(experiments: Iterable[Experiment], source: str = "experiments") -> None:
    """Experiments of one layer that are not stopped must own disjoint `layer_buckets`."""
    by_layer: dict[str, list[Experiment]] = {}
    for exp in experiments:
        if exp.status != "stopped":
            by_layer.setdefault(exp.layer_name, []).append(exp)
    for layer, exps in by_layer.items():
        exps.sort(key=lambda e: e.layer_buckets)
        for a, b in itertools.pairwise(exps):
            if b.layer_buckets[0] < a.layer_buckets[1]:
                raise InvalidExperiment(
                    source,
                    f"experiments {a.key!r} and {b.key!r} share layer {layer!r} and their "
                    f"layer_buckets {list(a.layer_buckets)} and {list(b.layer_buckets)} overlap",
                    field="layer_buckets",
                )


def _describe(exc: ValidationError) -> tuple[str | None, str]:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    reason = first["msg"].removeprefix("Value error, ")
    if len(exc.errors()) > 1:
        reason += f" (and {len(exc.errors()) - 1} more error(s))"
    return field, reason


def parse_experiment(data: Mapping[str, Any], source: str = "experiment") -> Experiment:
    """Validate one definition (a dict from JSON or YAML)."""
    try:
        return Experiment.model_validate(data)
    except ValidationError as exc:
        field, reason = _describe(exc)
        key = data.get("key") if isinstance(data, Mapping) else None
        raise InvalidExperiment(f"{source} {key!r}" if key else source, reason, field) from None


def parse_experiments(document: object, source: str = "experiments") -> list[Experiment]:
    """A YAML document: `{holdout_percent: 5, experiments: [...]}` or a bare list of definitions.

    The top-level `holdout_percent` (the global holdout) applies to every experiment that
    does not set its own.
    """
    if isinstance(document, list):
        document = {"experiments": document}
    if not isinstance(document, dict) or not isinstance(document.get("experiments"), list):
        raise InvalidExperiment(source, "expected a mapping with an `experiments` list")
    unknown = sorted(set(document) - {"holdout_percent", "experiments"})
    if unknown:
        raise InvalidExperiment(source, f"unknown top-level key(s) {unknown}")
    holdout = document.get("holdout_percent", 0.0)
    experiments: list[Experiment] = []
    for i, item in enumerate(document["experiments"]):
        if not isinstance(item, dict):
            raise InvalidExperiment(f"{source}, experiment #{i + 1}", "expected a mapping")
        data = {"holdout_percent": holdout, **item}
        experiments.append(parse_experiment(data, f"{source}, experiment #{i + 1}"))
    keys = [e.key for e in experiments]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise InvalidExperiment(source, f"experiment keys must be unique; repeated: {repeated}")
    check_layers(experiments, source)
    return experiments


def load_experiments(path: Path) -> list[Experiment]:
    """Read and validate a YAML file of experiment definitions."""
    try:
        document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidExperiment(str(path), f"cannot read: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise InvalidExperiment(str(path), f"not valid YAML: {exc}") from None
    return parse_experiments(document, str(path))


def merge_definitions(
    existing: Mapping[str, Experiment], incoming: Iterable[Experiment], source: str = "experiments"
) -> list[Experiment]:
    """The definitions to store when `incoming` replaces some of `existing`.

    A replaced experiment keeps its bucket allocation as far as its new weights allow
    (`Experiment.succeeding`); the layer rule is checked over everything that will be stored.
    """
    merged = []
    for exp in incoming:
        previous = existing.get(exp.key)
        merged.append(exp.succeeding(previous) if previous is not None else exp)
    after = {**existing, **{e.key: e for e in merged}}
    check_layers(after.values(), source)
    return merged
