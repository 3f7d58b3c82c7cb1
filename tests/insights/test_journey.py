"""The journey map: the shipped file loads, derivation, annotation, and errors with lines."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contracts.errors import InvalidInput
from insights.journey import (
    DEFAULT_STAGES,
    JOURNEY_FILE,
    JourneyError,
    load_journey,
    parse_journey,
)
from recsys.business_rules import OTHER_CONFIG, load_rulebook

RULES = Path(__file__).resolve().parents[2] / "rules"

SMALL = """\
stages: [before, during, after]
touchpoints:
  search: {stage: before, channel: web}
  checkout: {stage: during}
  support: {stage: after, channel: call_centre}
derive:
  - {channel: call_centre, touchpoint: support}
  - {type: [purchase, add_to_cart], touchpoint: checkout}
  - {type: view, channel: [web, app], touchpoint: search}
"""


def test_the_shipped_map_has_the_three_default_stages_and_covers_every_channel_and_type() -> None:
    journey = load_journey(RULES / JOURNEY_FILE)
    assert journey.stages == list(DEFAULT_STAGES)
    assert journey.stage_of("delivery") == "purchase_and_use"
    assert journey.stage_of("support") == "after_use"
    assert journey.channel_of("store_visit") == "store"
    from contracts.schema import CHANNELS, EVENT_TYPES

    for channel in CHANNELS:
        for kind in EVENT_TYPES:
            assert journey.derive(channel, kind) in journey.touchpoints, (channel, kind)


def test_the_business_rules_loader_leaves_the_journey_map_alone() -> None:
    assert Path(JOURNEY_FILE).stem in OTHER_CONFIG
    book = load_rulebook(RULES)  # would refuse a file not named after a channel
    assert "journey" not in book.files


def test_derive_takes_the_first_matching_rule_and_unknown_pairs_get_nothing() -> None:
    journey = parse_journey(SMALL)
    assert journey.derive("call_centre", "purchase") == "support"
    assert journey.derive("web", "purchase") == "checkout"
    assert journey.derive("app", "view") == "search"
    assert journey.derive("email", "view") == ""
    assert journey.channel_of("checkout") == ""


def test_annotate_derives_missing_event_touchpoints_keeps_given_ones_and_drops_nothing() -> None:
    journey = parse_journey(SMALL)
    events = pd.DataFrame(
        {
            "type": ["purchase", "view", "view", "click"],
            "channel": ["web", "web", "email", "web"],
            "touchpoint": ["", "", "", "support"],
        }
    )
    out = journey.annotate(events)
    assert list(out["touchpoint"]) == ["checkout", "search", "", "support"]
    assert list(out["stage"]) == ["during", "before", "", "after"]
    assert list(events["touchpoint"]) == ["", "", "", "support"]  # the input is not changed


def test_feedback_with_unknown_touchpoints_is_kept_and_reported_with_counts() -> None:
    journey = parse_journey(SMALL)
    feedback = pd.DataFrame({"touchpoint": ["search", "kiosk", "kiosk", "", "checkout"]})
    out = journey.annotate(feedback)
    assert len(out) == 5
    assert list(out["stage"]) == ["before", "", "", "", "during"]
    assert journey.unmapped(feedback["touchpoint"]) == {"kiosk": 2, "": 1}


def test_as_dict_lists_stages_in_order_and_every_touchpoint() -> None:
    doc = parse_journey(SMALL).as_dict()
    assert doc["stages"] == ["before", "during", "after"]
    assert doc["touchpoints"]["support"] == {"stage": "after", "channel": "call_centre"}


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("stages: [a, b]\ntouchpoints:\n  x: {stage: c}\n", 3, "unknown stage 'c'"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a, channel: fax}\n", 3, "unknown channel"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a}\nderive:\n  - {touchpoint: y}\n", 5,
         "unknown touchpoint 'y'"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a}\nderive:\n  - {type: buy, touchpoint: x}\n",
         5, "unknown event type 'buy'"),
        ("stages: [a, a]\ntouchpoints: {}\n", 1, "duplicate stage"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a}\n  x: {stage: a}\n", 4, "duplicate key"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a, colour: red}\n", 3, "unknown key 'colour'"),
        ("stages: [a]\n", 1, "missing 'touchpoints:'"),
        ("stages: [a]\ntouchpoints:\n  x: {stage: a\n", 4, "not valid YAML"),
        ("stages: [a]\ntouchpoints:\n  Bad Name: {stage: a}\n", 3, "touchpoint name"),
    ],
)  # fmt: skip
def test_a_malformed_map_names_file_line_and_reason(text: str, line: int, reason: str) -> None:
    with pytest.raises(JourneyError) as caught:
        parse_journey(text, source="journey.yaml")
    assert caught.value.line == line, str(caught.value)
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"journey.yaml, line {line}: ")
    assert isinstance(caught.value, InvalidInput)  # the CLI maps it to exit 2


def test_an_unreadable_file_is_a_journey_error(tmp_path: Path) -> None:
    with pytest.raises(JourneyError, match="cannot read"):
        load_journey(tmp_path / "absent.yaml")
