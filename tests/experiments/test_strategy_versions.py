"""Variants naming an earlier serving version: which names are servable, what the plan serves."""

from __future__ import annotations

from experiments.assignment import Assignment
from experiments.model import Strategy
from experiments.strategy import LiveModel, named_models, plan_for, unservable
from tests.experiments.factories import experiment

OLD = "20261001T000000Z-old"
KEPT = {OLD: OLD, "lightfm-3": OLD}  # the kept version's serving and registry model version
LIVE = LiveModel("20261101T000000Z-abc", "als", "als-7", others=KEPT)


def _defs(**strategies: dict[str, object]) -> dict:
    out = {}
    for i, (key, strategy) in enumerate(sorted(strategies.items())):
        data = experiment(key, layer=f"layer{i}").model_dump()
        data["variants"][1]["strategy"] = strategy
        out[key] = type(experiment()).model_validate(data)
    return out


def test_kept_versions_are_servable_by_serving_or_model_version_others_are_not() -> None:
    for model in (OLD, "lightfm-3", "als-7"):
        assert unservable(Strategy(model=model), LIVE) is None
    problem = unservable(Strategy(model="lightfm-1"), LIVE)
    assert problem is not None and "lightfm-3" in problem and "not the live model" in problem


def test_plan_serves_the_named_version_only_in_its_variant() -> None:
    defs = _defs(a={"model": "lightfm-3"})
    treated = plan_for(defs, [Assignment("a", "v1", "assigned")], LIVE)
    assert treated.serving_version == OLD and not treated.popular_only and treated.notes == ()
    control = plan_for(defs, [Assignment("a", "control", "assigned")], LIVE)
    assert control.serving_version is None


def test_a_retired_version_serves_the_fallback_and_popularity_wins() -> None:
    defs = _defs(a={"model": "lightfm-3", "fallback": "popular"}, b={"model": "popularity"})
    gone = LiveModel("20261101T000000Z-abc", "als", "als-7")
    plan = plan_for(defs, [Assignment("a", "v1", "assigned")], gone)
    assert plan.serving_version is None and plan.popular_only and "fallback" in plan.notes[0]
    both = [Assignment("a", "v1", "assigned"), Assignment("b", "v1", "assigned")]
    plan = plan_for(defs, both, LIVE)
    assert plan.popular_only and plan.serving_version is None


def test_two_versions_the_first_experiment_by_key_wins() -> None:
    others = {**KEPT, "ease-2": "20261015T000000Z-mid"}
    live = LiveModel("20261101T000000Z-abc", "als", "als-7", others=others)
    defs = _defs(a={"model": "ease-2"}, b={"model": "lightfm-3"})
    plan = plan_for(defs, [Assignment(k, "v1", "assigned") for k in ("b", "a")], live)
    assert plan.serving_version == "20261015T000000Z-mid"
    assert len(plan.notes) == 1 and "'lightfm-3' ignored" in plan.notes[0]


def test_named_models_are_those_of_running_experiments_besides_live_and_popularity() -> None:
    defs = _defs(a={"model": "lightfm-3"}, b={"model": "popularity"}, c={"model": "live"})
    stopped = experiment("s", status="stopped").model_dump()
    stopped["variants"][1]["strategy"] = {"model": "ease-2"}
    exps = [*defs.values(), type(experiment()).model_validate(stopped)]
    assert named_models(exps) == {"lightfm-3"}
