"""Definitions: YAML loading and the validation errors a user sees."""

from __future__ import annotations

from pathlib import Path

import pytest

from experiments.errors import InvalidExperiment
from experiments.model import (
    load_experiments,
    merge_definitions,
    parse_experiment,
    parse_experiments,
)
from tests.experiments.factories import definition

YAML = """
holdout_percent: 5
experiments:
  - key: home-als-vs-lightfm
    description: ALS against LightFM on the home page
    status: running
    layer: home_page
    layer_buckets: [0, 5000]
    control: als
    variants:
      - {name: als, weight: 50, strategy: {model: als}}
      - {name: lightfm, weight: 50, strategy: {model: lightfm, rules_profile: margin}}
    targeting: {channels: [web, app], segments: [loyal]}
    start: 2026-11-01T00:00:00Z
    stop: 2026-12-01
    mde: 0.05
    attribution_window_hours: 48
    conversion_types: [purchase, redeem]
  - key: home-slots
    layer: home_page
    layer_buckets: [5000, 10000]
    holdout_percent: 0
    control: a
    variants: [{name: a, weight: 34}, {name: b, weight: 33}, {name: c, weight: 33}]
"""


def test_yaml_file_loads_with_global_holdout_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "exp.yaml"
    path.write_text(YAML)
    first, second = load_experiments(path)
    assert first.key == "home-als-vs-lightfm"
    assert first.holdout_percent == 5  # inherited from the file
    assert second.holdout_percent == 0  # its own setting wins
    assert first.variant("lightfm").strategy.rules_profile == "margin"
    assert first.targeting.channels == ("web", "app")
    assert first.stop is not None and first.stop.tzinfo is not None  # naive read as UTC
    assert first.attribution_window_hours == 48
    assert second.status == "draft"
    assert second.allocation == {"a": [(0, 3400)], "b": [(3400, 6700)], "c": [(6700, 10000)]}


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            {"variants": [{"name": "control", "weight": 60}, {"name": "v1", "weight": 50}]},
            None,
            "sum to 100",
        ),
        ({"control": "missing"}, None, "control 'missing' is not one of the variants"),
        (
            {"variants": [{"name": "control", "weight": 50}, {"name": "control", "weight": 50}]},
            None,
            "unique",
        ),
        ({"targeting": {"channels": ["fax"]}}, "targeting.channels", "unknown channel"),
        ({"start": "2026-12-01T00:00:00Z", "stop": "2026-11-01T00:00:00Z"}, None, "after start"),
        ({"variants": [{"name": "control", "weight": 100}]}, "variants", "at least 2"),
        ({"layer_buckets": [5000, 5000]}, None, "layer_buckets"),
        ({"colour": "blue"}, "colour", "Extra inputs"),
        ({"conversion_types": ["view"]}, "conversion_types.0", "Input should be"),
        ({"key": "has space"}, "key", "pattern"),
        (
            {"allocation": {"control": [[0, 4000]], "v1": [[4000, 10000]]}},
            None,
            "does not match the weights",
        ),
    ],
)
def test_invalid_definitions_name_the_experiment_field_and_reason(
    change: dict, field: str | None, message: str
) -> None:
    with pytest.raises(InvalidExperiment) as info:
        parse_experiment({**definition("bad-one"), **change}, source="exp.yaml")
    assert info.value.field == field
    assert message in info.value.reason
    assert "exp.yaml" in str(info.value)
    assert ("bad-one" in str(info.value)) == (field != "key")


def test_same_layer_experiments_with_overlapping_buckets_are_rejected() -> None:
    doc = [
        definition("a", layer="home", layer_buckets=[0, 6000]),
        definition("b", layer="home", layer_buckets=[5000, 10000]),
    ]
    with pytest.raises(InvalidExperiment, match="share layer 'home'"):
        parse_experiments(doc)
    doc[1]["status"] = "stopped"  # a stopped experiment frees its buckets
    assert len(parse_experiments(doc)) == 2


def test_repeated_keys_and_bad_documents_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(InvalidExperiment, match="repeated: \\['a'\\]"):
        parse_experiments([definition("a"), definition("a", layer="other")])
    with pytest.raises(InvalidExperiment, match="`experiments` list"):
        parse_experiments({"holdout_percent": 3})
    bad = tmp_path / "bad.yaml"
    bad.write_text("experiments: [\n")
    with pytest.raises(InvalidExperiment, match="not valid YAML"):
        load_experiments(bad)
    with pytest.raises(InvalidExperiment, match="cannot read"):
        load_experiments(tmp_path / "missing.yaml")
    with pytest.raises(InvalidExperiment, match="experiment #2"):
        parse_experiments([definition("a"), "not a mapping"])


def test_merging_keeps_allocations_and_checks_layers_against_stored_experiments() -> None:
    stored = {
        e.key: e
        for e in parse_experiments([definition("a", layer="home", layer_buckets=[0, 5000])])
    }
    with pytest.raises(InvalidExperiment, match="share layer 'home'"):
        merge_definitions(stored, [parse_experiment(definition("b", layer="home"))])
    (a,) = merge_definitions(
        stored, [parse_experiment(definition("a", weights=(70, 30), layer="home"))]
    )
    assert a.allocation == {"control": [(0, 5000), (8000, 10000)], "v1": [(5000, 8000)]}
