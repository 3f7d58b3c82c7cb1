"""The journey map: ordered stages, each touchpoint's stage and channel, and the derivation
of an event's touchpoint from its (channel, type).

Read from YAML (`rules/journey.yaml`, beside the business rules) and validated at load:
every error is a `JourneyError` naming the file, the line, the key and the reason
(`contracts.yaml_lines`). Touchpoints the map does not know are kept (stage "") and
reported with their counts, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contracts.requests import TOUCHPOINT_MAX
from contracts.schema import CHANNELS, EVENT_TYPES
from contracts.yaml_lines import ConfigError, KeyPath, Lines, dotted, parse_with_lines

JOURNEY_FILE = "journey.yaml"  # in the business rules directory
# The customer-experience process's three stages: the map used when no file is found.
DEFAULT_STAGES = ("before_purchase", "purchase_and_use", "after_use")
NAME = re.compile(rf"^[a-z0-9][a-z0-9_\-]{{0,{TOUCHPOINT_MAX - 1}}}$")


class JourneyError(ConfigError):
    """A journey map file is invalid: `file`, 1-based `line` (None: the whole file), `key`
    (its dotted path), `reason`."""


@dataclass(frozen=True)
class Touchpoint:
    name: str
    stage: str
    channel: str


@dataclass(frozen=True)
class DeriveRule:
    """An event matches when its channel and type are in the sets (None: any)."""

    touchpoint: str
    channels: frozenset[str] | None = None
    types: frozenset[str] | None = None

    def matches(self, channel: str, type_: str) -> bool:
        return (self.channels is None or channel in self.channels) and (
            self.types is None or type_ in self.types
        )


@dataclass(frozen=True)
class JourneyMap:
    """Stages in journey order, touchpoints by name, derivation rules (first match wins)."""

    stages: list[str]
    touchpoints: dict[str, Touchpoint] = field(default_factory=dict)
    rules: tuple[DeriveRule, ...] = ()
    source: str = "<built-in>"

    def stage_of(self, touchpoint: str) -> str:
        """The touchpoint's stage; "" when the map does not know it."""
        known = self.touchpoints.get(touchpoint)
        return known.stage if known else ""

    def channel_of(self, touchpoint: str) -> str:
        known = self.touchpoints.get(touchpoint)
        return known.channel if known else ""

    def derive(self, channel: str, type_: str) -> str:
        """The touchpoint of an event that names none; "" when no rule matches."""
        return next((r.touchpoint for r in self.rules if r.matches(channel, type_)), "")

    def touchpoints_of(self, events: pd.DataFrame) -> pd.Series:
        """Each event's touchpoint: its own when given, else derived from (channel, type).
        Derived once per distinct pair on integer codes, so millions of events cost a few
        factorisations, not a loop or a column of Python strings."""
        n = len(events)
        channel_codes, channels = _codes(events.get("channel", None), n)
        type_codes, types = _codes(events["type"], n)
        width = len(types) + 1  # the last code of each: missing
        table = np.asarray(
            [self.derive(_at(channels, c), _at(types, t)) for c in range(len(channels) + 1)
             for t in range(width)],
            dtype=object,
        )  # fmt: skip
        out = table[channel_codes * width + type_codes]
        if "touchpoint" in events:
            given_codes, given = _codes(events["touchpoint"], n)
            blank = np.array([str(g) == "" for g in given] + [True])
            own = np.asarray([*list(given), ""], dtype=object)[given_codes]
            out = np.where(blank[given_codes], out, own)
        return pd.Series(out, index=events.index, dtype=pd.StringDtype("pyarrow"))

    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """`frame` with a `stage` column from its `touchpoint` ("" when unmapped; no row is
        dropped); events without a touchpoint get one derived first. See `unmapped`."""
        out = frame.copy()
        if "type" in out:  # events: fill the touchpoint the map derives
            out["touchpoint"] = self.touchpoints_of(out)
        touchpoint = _strings(out["touchpoint"]) if "touchpoint" in out else _blank(out)
        lookup = {name: tp.stage for name, tp in self.touchpoints.items()}
        codes, uniques = pd.factorize(touchpoint)
        stages = pd.Index([lookup.get(str(u), "") for u in uniques], dtype=object)
        out["stage"] = pd.Series(stages[codes], index=out.index).astype(pd.StringDtype("pyarrow"))
        return out

    def unmapped(self, touchpoints: Iterable[str] | pd.Series) -> dict[str, int]:
        """Touchpoints the map does not know, with their counts, most frequent first
        ("" = rows that named no touchpoint)."""
        counts = pd.Series(list(touchpoints) if not isinstance(touchpoints, pd.Series)
                           else _strings(touchpoints)).value_counts()  # fmt: skip
        return {str(k): int(v) for k, v in counts.items() if str(k) not in self.touchpoints}

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: stages in order and every touchpoint's stage and channel."""
        return {
            "stages": list(self.stages),
            "touchpoints": {
                n: {"stage": t.stage, "channel": t.channel} for n, t in self.touchpoints.items()
            },
        }


def default_journey() -> JourneyMap:
    """The three stages and no touchpoints (every touchpoint then shows as unmapped)."""
    return JourneyMap(stages=list(DEFAULT_STAGES))


def load_journey(path: Path | str) -> JourneyMap:
    """Read and validate a journey map file (`JourneyError` with file and line)."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JourneyError(str(file), None, "", f"cannot read journey map: {exc}") from exc
    return parse_journey(text, source=str(file))


def parse_journey(text: str, *, source: str = "<journey>") -> JourneyMap:
    try:
        data, lines = parse_with_lines(text, source)
    except ConfigError as exc:
        raise JourneyError(exc.file, exc.line, exc.key, exc.reason) from exc
    return _Parser(lines).journey(data)


class _Parser:
    def __init__(self, lines: Lines) -> None:
        self.lines = lines

    def fail(self, path: KeyPath, reason: str) -> JourneyError:
        return JourneyError(self.lines.file, self.lines.line(path), dotted(path), reason)

    def journey(self, data: Any) -> JourneyMap:
        top = self.mapping(data, (), "the journey map", {"stages", "touchpoints", "derive"})
        for key in ("stages", "touchpoints"):
            if key not in top:
                raise self.fail((), f"missing '{key}:'")
        stages = self.stages(top["stages"])
        touchpoints = self.touchpoints(top["touchpoints"], stages)
        rules = self.rules(top["derive"], touchpoints) if "derive" in top else ()
        return JourneyMap(stages, touchpoints, rules, self.lines.file)

    def mapping(
        self, value: Any, path: KeyPath, what: str, allowed: set[str] | None = None
    ) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"{what} must be a mapping")
        for key in value:
            name = self.scalar(key, (*path, key), "a key")
            if allowed is not None and name not in allowed:
                raise self.fail((*path, key), f"unknown key '{name}' in {what} (allowed: "
                                f"{', '.join(sorted(allowed))})")  # fmt: skip
        return value

    def scalar(self, value: Any, path: KeyPath, what: str) -> str:
        if isinstance(value, dict | list) or value is None or not str(value).strip():
            raise self.fail(path, f"{what} must be a non-empty string")
        return str(value).strip()

    def names(self, value: Any, path: KeyPath, what: str, allowed: Iterable[str]) -> frozenset[str]:
        """A scalar or a list of scalars, each one of `allowed`."""
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        out = set()
        for i, item in items:
            where = path if i is None else (*path, i)
            name = self.scalar(item, where, what)
            if name not in allowed:
                raise self.fail(where, f"unknown {what} '{name}' (one of {', '.join(allowed)})")
            out.add(name)
        return frozenset(out)

    def stages(self, value: Any) -> list[str]:
        if not isinstance(value, list) or not value:
            raise self.fail(
                ("stages",), "stages must be a non-empty list of names, in journey order"
            )
        stages: list[str] = []
        for i, item in enumerate(value):
            name = self.scalar(item, ("stages", i), "a stage")
            if not NAME.match(name):
                raise self.fail(
                    ("stages", i), f"stage name '{name}': lower-case letters, digits, _ or -"
                )
            if name in stages:
                raise self.fail(("stages", i), f"duplicate stage '{name}'")
            stages.append(name)
        return stages

    def touchpoints(self, value: Any, stages: list[str]) -> dict[str, Touchpoint]:
        out: dict[str, Touchpoint] = {}
        for key, raw in self.mapping(value, ("touchpoints",), "touchpoints").items():
            path: KeyPath = ("touchpoints", key)
            name = str(key).strip()
            if not NAME.match(name):
                raise self.fail(path, f"touchpoint name '{name}': lower-case letters, digits, "
                                f"_ or -, at most {TOUCHPOINT_MAX} characters")  # fmt: skip
            spec = self.mapping(raw, path, f"touchpoint '{name}'", {"stage", "channel"})
            if "stage" not in spec:
                raise self.fail(path, f"touchpoint '{name}' needs a stage")
            stage = self.scalar(spec["stage"], (*path, "stage"), "a stage")
            if stage not in stages:
                raise self.fail((*path, "stage"), f"touchpoint '{name}': unknown stage "
                                f"'{stage}' (stages: {', '.join(stages)})")  # fmt: skip
            channel = ""
            if "channel" in spec:
                channel = next(iter(self.names(spec["channel"], (*path, "channel"), "channel",
                                               CHANNELS)))  # fmt: skip
            out[name] = Touchpoint(name, stage, channel)
        return out

    def rules(self, value: Any, touchpoints: Mapping[str, Touchpoint]) -> tuple[DeriveRule, ...]:
        if not isinstance(value, list):
            raise self.fail(
                ("derive",), "derive must be a list of {channel, type, touchpoint} rules"
            )
        rules = []
        for i, item in enumerate(value):
            path: KeyPath = ("derive", i)
            spec = self.mapping(item, path, "a derive rule", {"channel", "type", "touchpoint"})
            if "touchpoint" not in spec:
                raise self.fail(path, "a derive rule needs a touchpoint")
            target = self.scalar(spec["touchpoint"], (*path, "touchpoint"), "a touchpoint")
            if target not in touchpoints:
                raise self.fail((*path, "touchpoint"), f"derive: unknown touchpoint '{target}'"
                                " (declare it under touchpoints:)")  # fmt: skip
            channels = (self.names(spec["channel"], (*path, "channel"), "channel", CHANNELS)
                        if "channel" in spec else None)  # fmt: skip
            types = (self.names(spec["type"], (*path, "type"), "event type", EVENT_TYPES)
                     if "type" in spec else None)  # fmt: skip
            rules.append(DeriveRule(target, channels, types))
        return tuple(rules)


def _codes(values: pd.Series | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Integer codes and their names; missing values get the code `len(names)` (read as "")."""
    if values is None:
        return np.zeros(n, dtype=np.int64), [""]
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    names = [str(u) for u in uniques]
    codes = np.where(codes < 0, len(names), codes).astype(np.int64)
    return codes, names


def _at(names: list[str], code: int) -> str:
    return names[code] if code < len(names) else ""


def _strings(values: pd.Series) -> pd.Series:
    return values.astype(object).where(values.notna(), "").astype(str)


def _blank(frame: pd.DataFrame) -> pd.Series:
    return pd.Series([""] * len(frame), index=frame.index, dtype=object)
