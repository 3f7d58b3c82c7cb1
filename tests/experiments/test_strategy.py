"""Combining variant strategies into a serving plan (pure), and rules profiles on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from api.services.business_rules_watch import RulesWatcher
from experiments.assignment import Assignment
from experiments.model import Strategy
from experiments.strategy import LiveModel, candidates, plan_for, unservable
from recsys.business_rules import all_windows, load_rulebook
from recsys.business_rules_schema import BusinessRulesError
from tests.experiments.factories import experiment

LIVE = LiveModel(serving_version="20261101T000000Z-abc", name="als", version="als-7")


def test_live_model_names_popularity_and_none_are_servable_others_are_not() -> None:
    for model in (None, "live", "popularity", "popular", "als", "als-7", "20261101T000000Z-abc"):
        assert unservable(Strategy(model=model), LIVE) is None
    problem = unservable(Strategy(model="lightfm"), LIVE)
    assert problem is not None and "'lightfm'" in problem and "als-7" in problem
    assert "nothing published" in str(unservable(Strategy(model="als"), LiveModel()))


def _defs(**strategies: dict[str, object]) -> dict:
    """One running 50/50 experiment per keyword: control live, `v1` with the given strategy."""
    out = {}
    for i, (key, strategy) in enumerate(sorted(strategies.items())):
        exp = experiment(key, layer=f"layer{i}")
        data = exp.model_dump()
        data["variants"][1]["strategy"] = strategy
        out[key] = type(exp).model_validate(data)
    return out


def test_plan_combines_popularity_and_the_first_rules_profile_by_key() -> None:
    defs = _defs(a={"rules_profile": "margin"}, b={"model": "popularity", "rules_profile": "x"})
    found = [Assignment("b", "v1", "assigned"), Assignment("a", "v1", "assigned")]
    plan = plan_for(defs, found, LIVE, profiles={"margin", "x"})
    assert plan.popular_only and plan.rules_profile == "margin"
    assert len(plan.notes) == 1 and "'x' ignored" in plan.notes[0]
    control = plan_for(defs, [Assignment("a", "control", "assigned")], LIVE, {"margin"})
    assert (control.popular_only, control.rules_profile, control.notes) == (False, None, ())


def test_unservable_model_uses_its_fallback_and_missing_profiles_are_noted() -> None:
    defs = _defs(a={"model": "lightfm", "fallback": "popular"}, b={"model": "lightfm",
                 "fallback": "live"}, c={"rules_profile": "gone"})  # fmt: skip
    assigned = [Assignment(k, "v1", "assigned") for k in ("a", "b", "c")]
    assert plan_for(defs, assigned[:1], LIVE).popular_only
    assert not plan_for(defs, assigned[1:2], LIVE).popular_only
    plan = plan_for(defs, assigned[2:], LIVE, profiles={"margin"})
    assert plan.rules_profile is None and "no rules profile 'gone'" in plan.notes[0]


def test_candidates_before_segments_are_known_cover_segment_targeting() -> None:
    exp = experiment("seg", targeting={"segments": ["vip"]})
    before = candidates([exp], customer_id="c1", channel="web", segments=None)
    assert [a.experiment for a in before] == ["seg"]
    assert candidates([exp], customer_id="c1", channel="web", segments=["other"]) == []
    after = candidates([exp], customer_id="c1", channel="web", segments=["vip"])
    assert after == before  # same variant once the segment is known


def test_rules_profiles_load_from_profiles_dir_and_merge_last(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    (tmp_path / "default.yaml").write_text("diversity: {max_per_category: 3}\n")
    (tmp_path / "web.yaml").write_text("diversity: {max_per_category: 2}\n")
    (tmp_path / "profiles" / "margin.yaml").write_text(
        "diversity: {max_per_category: 1}\ncaps: {per_item: {max: 2, days: 3}}\n"
    )
    book = load_rulebook(tmp_path)
    assert set(book.profiles) == {"margin"} and "margin" not in book.files
    assert book.resolve("web").max_per_category == 2
    merged = book.resolve("web", None, "margin")
    assert merged.max_per_category == 1 and merged.source.endswith("profiles/margin.yaml")
    assert 3 in all_windows(book)  # impressions are counted for the profile's cap window
    (tmp_path / "profiles" / "bad.yaml").write_text("diversity: {max_per_category: 0}\n")
    with pytest.raises(BusinessRulesError, match=r"bad\.yaml"):
        load_rulebook(tmp_path)


def test_rules_watcher_reloads_an_edited_profile(tmp_path: Path) -> None:
    (tmp_path / "profiles").mkdir()
    profile = tmp_path / "profiles" / "margin.yaml"
    profile.write_text("diversity: {max_per_category: 1}\n")
    watcher = RulesWatcher(tmp_path)
    assert watcher.current().resolve(None, None, "margin").max_per_category == 1
    profile.write_text("diversity: {max_per_category: 2}  # edited\n")
    watcher.request_reload()
    assert watcher.current().resolve(None, None, "margin").max_per_category == 2
