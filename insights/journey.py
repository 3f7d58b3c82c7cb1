"""The journey map: ordered stages, each touchpoint's stage and channel, and the derivation
of an event's touchpoint from its (channel, type).

Read from YAML (`rules/journey.yaml`, beside the business rules) and validated at load:
every error is a `JourneyError` naming the file, the line and the reason. Touchpoints the map
does not know are kept (stage "") and reported with their counts, never dropped.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from contracts.errors import InvalidInput
from contracts.requests import TOUCHPOINT_MAX
from contracts.schema import CHANNELS, EVENT_TYPES

JOURNEY_FILE = "journey.yaml"  # in the business rules directory
# The customer-experience process's three stages: the map used when no file is found.
DEFAULT_STAGES = ("before_purchase", "purchase_and_use", "after_use")
NAME = re.compile(rf"^[a-z0-9][a-z0-9_\-]{{0,{TOUCHPOINT_MAX - 1}}}$")


class JourneyError(InvalidInput):
    """A journey map file is invalid: `file`, 1-based `line` (None: the whole file), `reason`."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        self.file, self.line, self.reason = file, line, reason
        where = file if line is None else f"{file}, line {line}"
        super().__init__(f"{where}: {reason}")


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
        raise JourneyError(str(file), None, f"cannot read journey map: {exc}") from exc
    return parse_journey(text, source=str(file))


def parse_journey(text: str, *, source: str = "<journey>") -> JourneyMap:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise JourneyError(source, line, f"not valid YAML: {getattr(exc, 'problem', exc)}") from exc
    return _Parser(source).journey(root)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: Node | None, reason: str) -> JourneyError:
        return JourneyError(self.source, node.start_mark.line + 1 if node else None, reason)

    def journey(self, root: Node | None) -> JourneyMap:
        top = self.mapping(root, "the journey map", {"stages", "touchpoints", "derive"})
        for key in ("stages", "touchpoints"):
            if key not in top:
                raise self.fail(root, f"missing '{key}:'")
        stages = self.stages(top["stages"][1])
        touchpoints = self.touchpoints(top["touchpoints"][1], stages)
        rules = self.rules(top["derive"][1], touchpoints) if "derive" in top else ()
        return JourneyMap(stages, touchpoints, rules, self.source)

    def mapping(
        self, node: Node | None, what: str, allowed: set[str] | None = None
    ) -> dict[str, tuple[Node, Node]]:
        if not isinstance(node, MappingNode):
            raise self.fail(node, f"{what} must be a mapping")
        out: dict[str, tuple[Node, Node]] = {}
        for key, value in node.value:
            name = self.scalar(key, "a key")
            if allowed is not None and name not in allowed:
                raise self.fail(key, f"unknown key '{name}' in {what} (allowed: "
                                f"{', '.join(sorted(allowed))})")  # fmt: skip
            if name in out:
                raise self.fail(key, f"duplicate key '{name}' in {what}")
            out[name] = (key, value)
        return out

    def scalar(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or not str(node.value).strip():
            raise self.fail(node, f"{what} must be a non-empty string")
        return str(node.value).strip()

    def names(self, node: Node, what: str, allowed: Iterable[str]) -> frozenset[str]:
        """A scalar or a list of scalars, each one of `allowed`."""
        items = node.value if isinstance(node, SequenceNode) else [node]
        out = set()
        for item in items:
            name = self.scalar(item, what)
            if name not in allowed:
                raise self.fail(item, f"unknown {what} '{name}' (one of {', '.join(allowed)})")
            out.add(name)
        return frozenset(out)

    def stages(self, node: Node) -> list[str]:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.fail(node, "stages must be a non-empty list of names, in journey order")
        stages: list[str] = []
        for item in node.value:
            name = self.scalar(item, "a stage")
            if not NAME.match(name):
                raise self.fail(item, f"stage name '{name}': lower-case letters, digits, _ or -")
            if name in stages:
                raise self.fail(item, f"duplicate stage '{name}'")
            stages.append(name)
        return stages

    def touchpoints(self, node: Node, stages: list[str]) -> dict[str, Touchpoint]:
        out: dict[str, Touchpoint] = {}
        for name, (key, value) in self.mapping(node, "touchpoints").items():
            if not NAME.match(name):
                raise self.fail(key, f"touchpoint name '{name}': lower-case letters, digits, "
                                f"_ or -, at most {TOUCHPOINT_MAX} characters")  # fmt: skip
            spec = self.mapping(value, f"touchpoint '{name}'", {"stage", "channel"})
            if "stage" not in spec:
                raise self.fail(value, f"touchpoint '{name}' needs a stage")
            stage = self.scalar(spec["stage"][1], "a stage")
            if stage not in stages:
                raise self.fail(spec["stage"][1], f"touchpoint '{name}': unknown stage "
                                f"'{stage}' (stages: {', '.join(stages)})")  # fmt: skip
            channel = ""
            if "channel" in spec:
                channel = next(iter(self.names(spec["channel"][1], "channel", CHANNELS)))
            out[name] = Touchpoint(name, stage, channel)
        return out

    def rules(self, node: Node, touchpoints: Mapping[str, Touchpoint]) -> tuple[DeriveRule, ...]:
        if not isinstance(node, SequenceNode):
            raise self.fail(node, "derive must be a list of {channel, type, touchpoint} rules")
        rules = []
        for item in node.value:
            spec = self.mapping(item, "a derive rule", {"channel", "type", "touchpoint"})
            if "touchpoint" not in spec:
                raise self.fail(item, "a derive rule needs a touchpoint")
            target = self.scalar(spec["touchpoint"][1], "a touchpoint")
            if target not in touchpoints:
                raise self.fail(spec["touchpoint"][1], f"derive: unknown touchpoint '{target}'"
                                " (declare it under touchpoints:)")  # fmt: skip
            channels = self.names(spec["channel"][1], "channel", CHANNELS) if "channel" in spec \
                else None  # fmt: skip
            types = self.names(spec["type"][1], "event type", EVENT_TYPES) if "type" in spec \
                else None  # fmt: skip
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
