"""The attribution decision on its own: windows, clock skew, conversion types, no Redis."""

from __future__ import annotations

import pytest

from experiments.attribution import (
    CLOCK_SKEW_SECONDS,
    MAX_WINDOW_SECONDS,
    ConversionEvent,
    attributed,
    within_window,
)
from experiments.model import MAX_ATTRIBUTION_WINDOW_HOURS
from tests.experiments.factories import experiment

T0 = 1_700_000_000.0
HOUR = 3600.0
DEFS = {
    "home": experiment("home", attribution_window_hours=24, conversion_types=["purchase", "click"]),
    "email": experiment("email", layer="email", attribution_window_hours=2),
}


def purchase(at: float, kind: str = "purchase") -> ConversionEvent:
    return ConversionEvent("alice", kind, at, 10.0)


def test_a_conversion_counts_inside_each_experiments_own_window() -> None:
    last = {"home": T0, "email": T0}
    both = attributed(purchase(T0 + HOUR), last=last, via_recommendation={}, experiments=DEFS)
    assert both == ["email", "home"]
    late = attributed(purchase(T0 + 3 * HOUR), last=last, via_recommendation={}, experiments=DEFS)
    assert late == ["home"]  # past email's 2 h window
    gone = attributed(purchase(T0 + 25 * HOUR), last=last, via_recommendation={}, experiments=DEFS)
    assert gone == []


def test_only_the_experiments_conversion_types_count() -> None:
    last = {"home": T0, "email": T0}
    click = purchase(T0 + HOUR, kind="click")
    assert attributed(click, last=last, via_recommendation={}, experiments=DEFS) == ["home"]
    cart = purchase(T0 + HOUR, kind="add_to_cart")
    assert attributed(cart, last=last, via_recommendation={}, experiments=DEFS) == []


def test_clock_skew_lets_a_conversion_stamped_just_before_its_exposure_count() -> None:
    exp = DEFS["home"]
    assert within_window(exp, T0, T0 - CLOCK_SKEW_SECONDS)
    assert not within_window(exp, T0, T0 - CLOCK_SKEW_SECONDS - 1)
    assert within_window(exp, T0, T0 + 24 * HOUR)
    assert not within_window(exp, T0, T0 + 24 * HOUR + 1)


def test_the_recommendation_id_keeps_an_older_exposure_in_play() -> None:
    # last exposure to email is newer than the conversion; the served response is not
    last = {"email": T0 + 3 * HOUR}
    via = {"email": T0}
    event = purchase(T0 + HOUR)
    assert attributed(event, last=last, via_recommendation=via, experiments=DEFS) == ["email"]
    assert attributed(event, last=last, via_recommendation={}, experiments=DEFS) == []


def test_experiments_no_longer_defined_are_ignored() -> None:
    last = {"retired": T0, "home": T0}
    assert attributed(purchase(T0 + 60), last=last, via_recommendation={}, experiments=DEFS) == [
        "home"
    ]


def test_exposures_are_kept_as_long_as_the_longest_window_a_definition_may_set() -> None:
    assert MAX_WINDOW_SECONDS == MAX_ATTRIBUTION_WINDOW_HOURS * 3600
    with pytest.raises(ValueError):
        experiment("long", attribution_window_hours=MAX_ATTRIBUTION_WINDOW_HOURS + 1)
