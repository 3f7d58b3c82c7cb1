"""`rules/cases.yaml`: thresholds, queues with SLAs, customer-value factors, priority levels.

Validated at load (`contracts.yaml_lines`): an error names the file, the line and the key
path. A missing file means the defaults (NPS 0-6, CSAT 1-2, CES 1-3, one `general` queue
with a 72-hour SLA).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.schema import LOYALTY_TIERS, SURVEY_BANDS, SURVEY_RANGES
from contracts.yaml_lines import ConfigError, KeyPath, Lines, dotted, parse_with_lines

FILE_NAME = "cases.yaml"
# the top of each survey's unhappy band: NPS 0-6, CSAT 1-2, CES 1-3 (hard: high effort)
DEFAULT_THRESHOLDS = {survey: unhappy[1] for survey, (unhappy, _) in SURVEY_BANDS.items()}
KNOWN_KEYS = (
    "thresholds",
    "sentiment",
    "queues",
    "default_queue",
    "value",
    "priorities",
    "webhooks",
)  # fmt: skip  (webhooks: reserved for webhooks.yaml's work)


class CaseConfigError(ConfigError):
    """`cases.yaml` is invalid: file, line, key path and reason."""


@dataclass(frozen=True)
class Queue:
    name: str
    touchpoints: tuple[str, ...]
    sla_hours: float


@dataclass(frozen=True)
class CaseConfig:
    """The follow-up configuration, validated."""

    source: str = "built-in defaults"
    thresholds: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_THRESHOLDS))
    sentiment_max: float | None = -0.6
    queues: tuple[Queue, ...] = (Queue("general", (), 72.0),)
    default_queue: str = "general"
    tier_factors: dict[str, float] = field(default_factory=dict)
    segment_factors: dict[str, float] = field(default_factory=dict)
    spend_steps: tuple[tuple[float, float], ...] = ()  # (least spend, factor), ascending
    priorities: tuple[tuple[str, float], ...] = (("p1", 4.0), ("p2", 2.0), ("p3", 0.0))

    def queue(self, name: str) -> Queue:
        return next(q for q in self.queues if q.name == name)


def _fail(check: Lines, path: KeyPath, reason: str) -> CaseConfigError:
    return CaseConfigError(check.file, check.line(path), dotted(path), reason)


def _number(check: Lines, value: Any, path: KeyPath, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(check, path, f"must be a number, got {value!r}")
    if positive and value <= 0:
        raise _fail(check, path, f"must be positive, got {value!r}")
    return float(value)


def _mapping(check: Lines, value: Any, path: KeyPath) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail(check, path, f"must be a mapping, got {type(value).__name__}")
    return value


def parse_case_config(text: str, file: str) -> CaseConfig:
    """Validate the text of a `cases.yaml`; raises `CaseConfigError` (file, line, key)."""
    try:
        data, check = parse_with_lines(text, file)
    except ConfigError as exc:
        raise CaseConfigError(exc.file, exc.line, exc.key, exc.reason) from None
    data = _mapping(check, {} if data is None else data, ())
    for key in data:
        if key not in KNOWN_KEYS:
            raise _fail(check, (key,), f"unknown key; expected one of {', '.join(KNOWN_KEYS)}")
    thresholds = dict(DEFAULT_THRESHOLDS)
    for survey, raw in _mapping(check, data.get("thresholds", {}), ("thresholds",)).items():
        path: KeyPath = ("thresholds", survey)
        if survey not in SURVEY_RANGES:
            raise _fail(check, path, f"unknown survey; expected one of {', '.join(SURVEY_RANGES)}")
        top = _mapping(check, raw, path).get("max")
        low, high = SURVEY_RANGES[survey]
        if isinstance(top, bool) or not isinstance(top, int) or not low <= top < high:
            raise _fail(check, (*path, "max"), f"must be an integer from {low} to {high - 1}")
        thresholds[survey] = top
    sentiment = data.get("sentiment", {"max": -0.6})
    sentiment_max = None
    if sentiment is not None:
        sentiment_max = _number(check, _mapping(check, sentiment, ("sentiment",)).get("max"),
                                ("sentiment", "max"))  # fmt: skip
    queues = []
    for name, raw in _mapping(check, data.get("queues", {"general": {"sla_hours": 72}}),
                              ("queues",)).items():  # fmt: skip
        path = ("queues", name)
        spec = _mapping(check, raw, path)
        touchpoints = spec.get("touchpoints", [])
        if not isinstance(touchpoints, list) or not all(isinstance(t, str) for t in touchpoints):
            raise _fail(check, (*path, "touchpoints"), "must be a list of touchpoint names")
        sla = _number(check, spec.get("sla_hours"), (*path, "sla_hours"), positive=True)
        queues.append(Queue(str(name), tuple(touchpoints), sla))
    if not queues:
        raise _fail(check, ("queues",), "needs at least one queue")
    default_queue = data.get("default_queue", queues[-1].name)
    if default_queue not in {q.name for q in queues}:
        raise _fail(check, ("default_queue",), f"names no queue: {default_queue!r}")
    value = _mapping(check, data.get("value", {}), ("value",))
    tiers = _mapping(check, value.get("tier", {}), ("value", "tier"))
    for tier, factor in tiers.items():
        if tier not in LOYALTY_TIERS:
            raise _fail(check, ("value", "tier", tier), f"unknown tier; one of {LOYALTY_TIERS}")
        _number(check, factor, ("value", "tier", tier), positive=True)
    segments = _mapping(check, value.get("rfm_segment", {}), ("value", "rfm_segment"))
    for segment, factor in segments.items():
        _number(check, factor, ("value", "rfm_segment", segment), positive=True)
    steps = []
    for i, step in enumerate(value.get("spend", []) or []):
        spec = _mapping(check, step, ("value", "spend", i))
        steps.append((_number(check, spec.get("min"), ("value", "spend", i, "min")),
                      _number(check, spec.get("factor"), ("value", "spend", i, "factor"),
                              positive=True)))  # fmt: skip
    levels = []
    for i, level in enumerate(data.get("priorities", []) or []):
        spec = _mapping(check, level, ("priorities", i))
        if not isinstance(spec.get("name"), str) or not spec["name"]:
            raise _fail(check, ("priorities", i, "name"), "must be a non-empty string")
        levels.append((spec["name"], _number(check, spec.get("min"), ("priorities", i, "min"))))
    if levels and [m for _, m in levels] != sorted((m for _, m in levels), reverse=True):
        raise _fail(check, ("priorities",), "levels must be listed most urgent (highest min) first")
    return CaseConfig(
        source=file,
        thresholds=thresholds,
        sentiment_max=sentiment_max,
        queues=tuple(queues),
        default_queue=str(default_queue),
        tier_factors={str(k): float(v) for k, v in tiers.items()},
        segment_factors={str(k): float(v) for k, v in segments.items()},
        spend_steps=tuple(sorted(steps)),
        priorities=tuple(levels) or CaseConfig().priorities,
    )


def load_case_config(directory: Path) -> CaseConfig:
    """`directory/cases.yaml`, or the defaults when there is none."""
    path = directory / FILE_NAME
    if not path.is_file():
        return CaseConfig()
    return parse_case_config(path.read_text(), str(path))
