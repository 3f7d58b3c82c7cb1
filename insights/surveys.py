"""Whether to ask a customer for feedback now, and with which survey (pure: data in, data out).

`rules/surveys.yaml` (validated at load, refusals name file and line):

    quiet_days: 30            # after any survey was asked or answered, none on any channel
    surveys:                  # in order of preference: the first that fits is asked
      - {survey: ces, touchpoints: [support], cooldown_days: 90}
      - {survey: csat, touchpoints: [delivery], cooldown_days: 60}
      - {survey: nps, min_purchases: 2, cooldown_days: 90}
    # per survey also `channels: [...]` (omitted = every channel)

The decision, in this order: never while the customer has an open case (their complaint is
unanswered); never on a channel that needs consent (one the customers table has a
`consent_<channel>` column for) without it; never within the quiet period of the last survey
asked or answered on any channel; then the first survey whose touchpoint, channel and
purchase count fit and whose own cooldown has passed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from contracts.schema import CHANNELS, CUSTOMERS, SURVEYS
from contracts.yaml_lines import Lines, load_with_lines

DAY = 86_400.0
# Channels a message needs the customer's consent on: the customers table declares them.
CONSENT_CHANNELS = frozenset(
    c.name.removeprefix("consent_") for c in CUSTOMERS.columns if c.name.startswith("consent_")
)


@dataclass(frozen=True)
class SurveyRule:
    survey: str
    cooldown_days: float = 90.0
    touchpoints: frozenset[str] | None = None  # None = at any touchpoint
    channels: frozenset[str] | None = None  # None = on any channel
    min_purchases: int = 0

    def fits(self, channel: str, touchpoint: str, purchases: int) -> bool:
        return (
            (self.touchpoints is None or touchpoint in self.touchpoints)
            and (self.channels is None or channel in self.channels)
            and purchases >= self.min_purchases
        )


DEFAULT_RULES = (
    SurveyRule("ces", 90.0, touchpoints=frozenset({"support"})),
    SurveyRule("csat", 60.0, touchpoints=frozenset({"delivery"})),
    SurveyRule("nps", 90.0, min_purchases=2),
)


@dataclass(frozen=True)
class SurveyPolicy:
    rules: tuple[SurveyRule, ...] = DEFAULT_RULES
    quiet_days: float = 30.0
    source: str = "built-in defaults"

    @property
    def longest_days(self) -> float:
        """How long a recorded survey matters at most (the TTL of what is recorded)."""
        return max([self.quiet_days, *(r.cooldown_days for r in self.rules)])


@dataclass(frozen=True)
class SurveyFacts:
    """What is known of the customer at the moment of asking."""

    channel: str
    touchpoint: str = ""
    purchases: int = 0
    consent: Mapping[str, bool] | None = None  # None: no published profile
    open_cases: Mapping[str, str] = field(default_factory=dict)  # touchpoint → case id
    last_surveyed: Mapping[str, float] = field(default_factory=dict)  # survey → asked/answered


@dataclass(frozen=True)
class SurveyDecision:
    ask: bool
    survey: str | None
    reason: str
    next_eligible_at: float | None = None  # when the quiet period or cooldown ends


def decide(policy: SurveyPolicy, facts: SurveyFacts, now: float) -> SurveyDecision:
    """Ask now, and which survey; or why not (and from when, if only time stands in the way)."""
    if facts.open_cases:
        where, case_id = sorted(facts.open_cases.items())[0]
        return SurveyDecision(
            False,
            None,
            f"open case {case_id} ({where or 'no touchpoint'}) "
            "is unanswered: no survey until it is closed",
        )
    if facts.channel in CONSENT_CHANNELS and not (facts.consent or {}).get(facts.channel, False):
        return SurveyDecision(False, None, f"no consent to contact on {facts.channel}")
    if facts.last_surveyed:
        quiet_until = max(facts.last_surveyed.values()) + policy.quiet_days * DAY
        if quiet_until > now:
            return SurveyDecision(
                False,
                None,
                f"quiet period: surveyed within the last {policy.quiet_days:g} days",
                quiet_until,
            )
    fitting = [r for r in policy.rules if r.fits(facts.channel, facts.touchpoint, facts.purchases)]
    if not fitting:
        return SurveyDecision(
            False,
            None,
            "no survey is configured for this moment "
            f"(touchpoint {facts.touchpoint or '-'!r}, {facts.purchases} "
            "purchases)",
        )
    soonest: float | None = None
    for rule in fitting:
        last = facts.last_surveyed.get(rule.survey)
        ready_at = None if last is None else last + rule.cooldown_days * DAY
        if ready_at is None or ready_at <= now:
            return SurveyDecision(True, rule.survey, f"{rule.survey} fits this moment")
        soonest = ready_at if soonest is None else min(soonest, ready_at)
    names = ", ".join(r.survey for r in fitting)
    return SurveyDecision(False, None, f"cooldown: {names} asked too recently", soonest)


_TOP = {"quiet_days", "surveys"}
_RULE = {"survey", "cooldown_days", "touchpoints", "channels", "min_purchases"}


def load_policy(path: Path) -> SurveyPolicy:
    """The policy of `path` (a missing file: the built-in defaults); `ConfigError` with file,
    line and key when it is invalid."""
    if not path.exists():
        return SurveyPolicy()
    data, lines = load_with_lines(path)
    data = {} if data is None else data
    lines.mapping(data, (), _TOP)
    quiet = _days(data.get("quiet_days", 30), ("quiet_days",), lines)
    raw_rules = data.get("surveys", None)
    if raw_rules is None:
        return SurveyPolicy(quiet_days=quiet, source=str(path))
    if not isinstance(raw_rules, list) or not raw_rules:
        raise lines.error(("surveys",), "must be a non-empty list")
    rules = []
    for i, raw in enumerate(raw_rules):
        where = ("surveys", i)
        lines.mapping(raw, where, _RULE)
        if raw.get("survey") not in SURVEYS:
            raise lines.error((*where, "survey"), f"required, one of {', '.join(SURVEYS)}")
        purchases = raw.get("min_purchases", 0)
        if not isinstance(purchases, int) or isinstance(purchases, bool) or purchases < 0:
            raise lines.error((*where, "min_purchases"), "must be a whole number ≥ 0")
        channels = _names(raw, where, "channels", lines)
        for j, channel in enumerate(channels or ()):
            if channel not in CHANNELS:
                raise lines.error((*where, "channels", j), f"one of {', '.join(CHANNELS)}")
        rules.append(
            SurveyRule(
                survey=raw["survey"],
                cooldown_days=_days(raw.get("cooldown_days", 90), (*where, "cooldown_days"), lines),
                touchpoints=_names(raw, where, "touchpoints", lines),
                channels=channels,
                min_purchases=purchases,
            )
        )
    return SurveyPolicy(tuple(rules), quiet, str(path))


def _days(raw: Any, where: tuple[str | int, ...], lines: Lines) -> float:
    if not isinstance(raw, int | float) or isinstance(raw, bool) or not 0 <= raw <= 3650:
        raise lines.error(where, f"must be a number of days from 0 to 3650, got {raw!r}")
    return float(raw)


def _names(
    raw: dict[str, Any], where: tuple[str | int, ...], key: str, lines: Lines
) -> frozenset[str] | None:
    if key not in raw:
        return None
    value = raw[key]
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise lines.error((*where, key), "must be a non-empty list of names")
    return frozenset(value)
