"""The survey decision, pure: open case, consent, quiet period, cooldown, the first fit."""

from __future__ import annotations

import textwrap

import pytest

from contracts.yaml_lines import ConfigError
from insights.surveys import DAY, SurveyFacts, SurveyPolicy, decide, load_policy

NOW = 1_800_000_000.0
POLICY = SurveyPolicy()  # CES at support, CSAT at delivery, NPS from two purchases; 30 quiet days
CONSENTING = {"email": True, "push": True, "sms": True}


def facts(**kwargs: object) -> SurveyFacts:
    kwargs.setdefault("channel", "web")
    kwargs.setdefault("consent", CONSENTING)
    return SurveyFacts(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("touchpoint", "purchases", "survey"),
    [
        ("support", 0, "ces"),
        ("delivery", 0, "csat"),
        ("checkout", 2, "nps"),
        ("support", 5, "ces"),
        ("checkout", 1, None),
        ("", 0, None),
    ],
)
def test_the_first_survey_that_fits_the_moment(touchpoint, purchases, survey) -> None:
    decision = decide(POLICY, facts(touchpoint=touchpoint, purchases=purchases), NOW)
    assert (decision.ask, decision.survey) == (survey is not None, survey)


def test_an_open_case_stops_every_survey() -> None:
    decision = decide(POLICY, facts(touchpoint="support", open_cases={"delivery": "K7"}), NOW)
    assert not decision.ask and "K7" in decision.reason


@pytest.mark.parametrize("channel", ["email", "push", "sms"])
def test_marketing_channels_need_consent(channel: str) -> None:
    without = {**CONSENTING, channel: False}
    assert not decide(
        POLICY, facts(channel=channel, touchpoint="support", consent=without), NOW
    ).ask
    assert not decide(POLICY, facts(channel=channel, touchpoint="support", consent=None), NOW).ask
    assert decide(POLICY, facts(channel=channel, touchpoint="support"), NOW).ask


def test_channels_without_a_consent_column_ask_unknown_customers() -> None:
    assert decide(POLICY, facts(channel="web", touchpoint="support", consent=None), NOW).ask


def test_the_quiet_period_holds_after_any_survey_and_says_until_when() -> None:
    asked = NOW - 10 * DAY
    decision = decide(POLICY, facts(touchpoint="support", last_surveyed={"nps": asked}), NOW)
    assert not decision.ask and decision.next_eligible_at == asked + 30 * DAY
    later = decide(
        POLICY, facts(touchpoint="support", last_surveyed={"nps": asked}), asked + 30 * DAY
    )
    assert later.survey == "ces"


def test_a_survey_on_cooldown_gives_way_to_the_next_that_fits() -> None:
    last = {"ces": NOW - 40 * DAY}  # past the 30 quiet days, within CES's 90-day cooldown
    both = decide(POLICY, facts(touchpoint="support", purchases=3, last_surveyed=last), NOW)
    assert both.survey == "nps"
    alone = decide(POLICY, facts(touchpoint="support", purchases=0, last_surveyed=last), NOW)
    assert not alone.ask and alone.next_eligible_at == last["ces"] + 90 * DAY


def test_a_policy_file_with_channels_and_its_refusals(tmp_path) -> None:
    path = tmp_path / "surveys.yaml"
    path.write_text("quiet_days: 7\nsurveys:\n  - {survey: csat, channels: [app]}\n")
    policy = load_policy(path)
    assert policy.quiet_days == 7
    assert decide(policy, facts(channel="app"), NOW).survey == "csat"
    assert not decide(policy, facts(channel="web"), NOW).ask
    for text, line, key in [
        ("surveys:\n  - {survey: xps}\n", 2, "surveys[0].survey"),
        ("surveys:\n  - survey: nps\n    channels: [fax]\n", 3, "surveys[0].channels[0]"),
        ("quiet_days: -1\n", 1, "quiet_days"),
        ("surveys:\n  - survey: nps\n    min_purchases: two\n", 3, "surveys[0].min_purchases"),
        ("surveys:\n  - survey: nps\n    when: later\n", 3, "surveys[0].when"),
    ]:
        path.write_text(textwrap.dedent(text))
        with pytest.raises(ConfigError) as info:
            load_policy(path)
        assert (info.value.line, info.value.key) == (line, key), text


def test_the_shipped_file_says_what_the_issue_asks() -> None:
    from pathlib import Path

    shipped = load_policy(Path(__file__).parents[2] / "rules" / "surveys.yaml")
    assert shipped.quiet_days == 30
    assert decide(shipped, facts(touchpoint="support"), NOW).survey == "ces"
    assert decide(shipped, facts(touchpoint="delivery"), NOW).survey == "csat"
    assert decide(shipped, facts(touchpoint="checkout", purchases=2), NOW).survey == "nps"
    assert not decide(shipped, facts(touchpoint="checkout", purchases=1), NOW).ask
