"""Business rules per channel and placement, from YAML, validated with file + key path + reason.

Files in the rules directory: `default.yaml` (every answer), `<channel>.yaml` and
`<channel>.<placement>.yaml`; a more specific file overrides the keys it names (dicts merge,
everything else replaces). `profiles/<name>.yaml` are rules profiles that an A/B variant
(`experiments.strategy`) merges last, over the rest. An example with every key:

    eligibility: {in_stock: true, active_window: true, target_segments: true,
                  min_tier: true, consent: true}      # consent: email/push/sms only
    consumption:                                      # default.yaml only (but repeatable)
      events: [purchase, redeem, rate]                # these mean the customer has the item
      kinds: {content: [view]}                        # and these, for items of one kind
      repeatable: {kinds: [], categories: [Grocery]}  # may be had again
    exclusions: {consumed: true, dismissed: true, shown: {times: 5, days: 7}}
    caps:
      per_item: {max: 3, days: 7}                     # customer x item, every channel
      per_channel: {offer: {max: 2, days: 7}}         # customer x this channel, per kind
    diversity: {max_per_category: 3}
    boosts: [{category: Electronics, factor: 1.3}, {tag: new, factor: 1.2}]
    pins: [{item_id: SKU-1, position: 1}]
    reactions:                                        # feedback and cases (`recsys.reactions`)
      - when: {open_case: true, nps: detractor, within_days: 30}
        boost: {tag: recovery, factor: 50}
        suppress: {tags: [promotion], channels: [push, email]}
        reason: "we're sorry about your {touchpoint}"
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from contracts.schema import CHANNELS, ITEM_KINDS
from recsys.business_rules_schema import SCHEMA, BusinessRulesError, validate
from recsys.consumption import CONSUMING_BY_KIND, CONSUMING_EVENTS, Consumption
from recsys.reactions import Reaction, reaction_from

log = logging.getLogger("touchpoint.rules")

MARKETING_CHANNELS = frozenset({"email", "push", "sms"})
PROFILES = "profiles"  # subdirectory of the rules directory holding rules profiles
# Configuration files of other features that live beside the business rules (not rules):
# follow-up cases, webhooks, survey throttling, the journey map (`insights.journey`).
OTHER_CONFIG = frozenset({"cases", "webhooks", "surveys", "journey"})


@dataclass(frozen=True)
class Cap:
    """At most `max` in a window of `days` days."""

    max: int
    days: int


@dataclass(frozen=True)
class Boost:
    """Multiply the score of items matching every given field by `factor`."""

    factor: float
    category: str | None = None
    tag: str | None = None
    kind: str | None = None
    item_id: str | None = None

    def matches(self, item: dict[str, Any]) -> bool:
        if self.category is not None and item.get("category") != self.category:
            return False
        if self.kind is not None and item.get("kind") != self.kind:
            return False
        if self.item_id is not None and item.get("item_id") != self.item_id:
            return False
        return self.tag is None or self.tag in (item.get("tags") or ())


@dataclass(frozen=True)
class Pin:
    item_id: str
    position: int  # 1-based


@dataclass(frozen=True)
class Rules:
    """The rules in force for one channel/placement (defaults: every check on, no caps)."""

    source: str = "built-in defaults"
    in_stock: bool = True
    active_window: bool = True
    target_segments: bool = True
    min_tier: bool = True
    consent: bool = True
    exclude_consumed: bool = True  # what the customer already has (`consumption`)
    consumption: Consumption = field(default_factory=Consumption)
    exclude_dismissed: bool = True
    exclude_shown: Cap | None = None
    item_cap: Cap | None = None
    channel_caps: dict[str, Cap] = field(default_factory=dict)
    max_per_category: int | None = None
    boosts: tuple[Boost, ...] = ()
    pins: tuple[Pin, ...] = ()
    reactions: tuple[Reaction, ...] = ()  # conditions on feedback and open cases

    @property
    def windows(self) -> frozenset[int]:
        """Window lengths (days) whose impression counts the request must read."""
        caps = [self.exclude_shown, self.item_cap, *self.channel_caps.values()]
        return frozenset(c.days for c in caps if c is not None)

    @property
    def least_item_cap(self) -> int | None:
        """The fewest showings of one item that any of these rules acts on (None: none do)."""
        caps = [c.max for c in (self.exclude_shown, self.item_cap) if c is not None]
        return min(caps) if caps else None

    def needs_consent(self, channel: str | None) -> bool:
        return self.consent and channel in MARKETING_CHANNELS


def _cap(raw: dict[str, Any] | None, count_key: str = "max") -> Cap | None:
    return None if raw is None else Cap(int(raw[count_key]), int(raw["days"]))


def build(data: dict[str, Any], source: str) -> Rules:
    """Rules from an already merged and validated mapping."""
    elig = data.get("eligibility", {})
    excl = data.get("exclusions", {})
    caps = data.get("caps", {})
    cons = data.get("consumption", {})
    repeat = cons.get("repeatable", {})
    by_kind = {**CONSUMING_BY_KIND, **cons.get("kinds", {})}
    consumption = Consumption(
        events=frozenset(cons.get("events", CONSUMING_EVENTS)),
        by_kind={kind: frozenset(types) for kind, types in by_kind.items()},
        repeatable_kinds=frozenset(repeat.get("kinds", ())),
        repeatable_categories=frozenset(repeat.get("categories", ())),
    )
    return Rules(
        source=source,
        in_stock=elig.get("in_stock", True),
        active_window=elig.get("active_window", True),
        target_segments=elig.get("target_segments", True),
        min_tier=elig.get("min_tier", True),
        consent=elig.get("consent", True),
        exclude_consumed=excl.get("consumed", excl.get("purchased", True)),
        consumption=consumption,
        exclude_dismissed=excl.get("dismissed", True),
        exclude_shown=_cap(excl.get("shown"), "times"),
        item_cap=_cap(caps.get("per_item")),
        channel_caps={
            kind: Cap(c["max"], c["days"]) for kind, c in caps.get("per_channel", {}).items()
        },
        max_per_category=data.get("diversity", {}).get("max_per_category"),
        boosts=tuple(Boost(**b) for b in data.get("boosts", [])),
        pins=tuple(Pin(**p) for p in data.get("pins", [])),
        reactions=tuple(reaction_from(r) for r in data.get("reactions", [])),
    )


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class RuleBook:
    """Every rules file of a directory, resolved per (channel, placement) on demand."""

    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # stem -> validated mapping
    profiles: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> mapping
    _cache: dict[tuple[str | None, str | None, str | None], Rules] = field(default_factory=dict)

    def resolve(
        self, channel: str | None, placement: str | None = None, profile: str | None = None
    ) -> Rules:
        """The merged rules; `profile` (an A/B variant's rules profile) is merged last."""
        key = (channel, placement, profile)
        found = self._cache.get(key)
        if found is None:
            stems = ["default"]
            if channel is not None:
                stems.append(channel)
                if placement is not None:
                    stems.append(f"{channel}.{placement}")
            data: dict[str, Any] = {}
            used = []
            for stem in stems:
                if stem in self.files:
                    data = merge(data, self.files[stem])
                    used.append(f"{stem}.yaml")
            if profile is not None and profile in self.profiles:
                data = merge(data, self.profiles[profile])
                used.append(f"profiles/{profile}.yaml")
            found = build(data, " + ".join(used) or "built-in defaults")
            self._cache[key] = found
        return found

    @property
    def consumption(self) -> Consumption:
        """What consumes an item, for every channel (declared in `default.yaml` alone)."""
        return self.resolve(None).consumption


def all_windows(book: RuleBook) -> frozenset[int]:
    """Every window length any channel's rules read: impressions are counted in all of them,
    so a cap on one channel sees what every other channel showed."""
    out = set(book.resolve(None).windows)
    for stem in book.files:
        if stem != "default":
            channel, _, placement = stem.partition(".")
            out |= book.resolve(channel, placement or None).windows
    for profile in book.profiles:
        out |= book.resolve(None, None, profile).windows
    return frozenset(out)


def least_item_cap(book: RuleBook) -> int | None:
    """The fewest showings of one item that any rules of the book act on (None: none do):
    an item shown fewer times is blocked by no channel, placement or profile."""
    resolved = [book.resolve(None)]
    for stem in book.files:
        if stem != "default":
            channel, _, placement = stem.partition(".")
            resolved.append(book.resolve(channel, placement or None))
    resolved += [book.resolve(None, None, profile) for profile in book.profiles]
    caps = [r.least_item_cap for r in resolved if r.least_item_cap is not None]
    return min(caps) if caps else None


def parse_file(path: Path, *, profile: bool = False) -> dict[str, Any]:
    """One rules file, validated; raises `BusinessRulesError` naming the file, key path and reason.
    A `profile` (from `profiles/`) may have any name."""
    stem = path.name.removesuffix(".yaml").removesuffix(".yml")
    channel = stem.split(".", 1)[0]
    if not profile and stem != "default" and channel not in CHANNELS:
        raise BusinessRulesError(
            str(path), "", f"file name must be default.yaml or <channel>[.<placement>].yaml "
            f"with channel one of {', '.join(CHANNELS)}"
        )  # fmt: skip
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise BusinessRulesError(str(path), "", f"not valid YAML: {exc}") from exc
    validate(data, SCHEMA, str(path))
    for i, boost in enumerate(data.get("boosts", [])):
        if boost.get("kind") is not None and boost["kind"] not in ITEM_KINDS:
            raise BusinessRulesError(str(path), f"boosts[{i}].kind", f"must be one of {ITEM_KINDS}")
    for kind in data.get("caps", {}).get("per_channel", {}):
        if kind not in (*ITEM_KINDS, "any"):
            raise BusinessRulesError(str(path), f"caps.per_channel.{kind}", "unknown item kind")
    _check_consumption(data, path, stem, profile)
    for i, reaction in enumerate(data.get("reactions", [])):
        if not reaction.get("when") or not (reaction.get("boost") or reaction.get("suppress")):
            raise BusinessRulesError(
                str(path), f"reactions[{i}]", "needs `when` and a `boost` or a `suppress`"
            )
        for channel in reaction.get("suppress", {}).get("channels", []):
            if channel not in CHANNELS:
                raise BusinessRulesError(str(path), f"reactions[{i}].suppress.channels",
                                         f"unknown channel {channel!r}")  # fmt: skip
    return dict(data)


def _check_consumption(data: dict[str, Any], path: Path, stem: str, profile: bool) -> None:
    consumption = data.get("consumption", {})
    for kind in consumption.get("kinds", {}):
        if kind not in ITEM_KINDS:
            raise BusinessRulesError(str(path), f"consumption.kinds.{kind}", "unknown item kind")
    for key in ("events", "kinds"):
        if key in consumption and (profile or stem != "default"):
            raise BusinessRulesError(
                str(path), f"consumption.{key}", "belongs in default.yaml only: the batch "
                "publishes what each customer has by these types (a channel or placement may "
                "override exclusions.consumed and consumption.repeatable)"
            )  # fmt: skip
    if "purchased" in data.get("exclusions", {}):
        log.warning("%s: exclusions.purchased is deprecated; use exclusions.consumed", path)


def fingerprint(directory: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, mtimes and sizes of the rules files (and profiles): changes when any file does."""
    if not directory.is_dir():
        return ()
    files = _yaml_files(directory) + _yaml_files(directory / PROFILES)
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def _yaml_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.suffix in (".yaml", ".yml") and p.stem not in OTHER_CONFIG
    )


def load_rulebook(directory: Path) -> RuleBook:
    """Every `*.yaml` of `directory` (missing directory = built-in defaults only)."""
    if not directory.is_dir():
        return RuleBook()
    files = {}
    for path in _yaml_files(directory):
        files[path.name.removesuffix(path.suffix)] = parse_file(path)
    profiles = {
        path.name.removesuffix(path.suffix): parse_file(path, profile=True)
        for path in _yaml_files(directory / PROFILES)
    }
    return RuleBook(files, profiles)
