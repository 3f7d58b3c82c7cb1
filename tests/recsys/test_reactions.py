"""Rule conditions on feedback and cases (`recsys.reactions`): validation and decisions."""

from __future__ import annotations

import pytest

from recsys.business_rules import parse_file
from recsys.business_rules_schema import BusinessRulesError
from recsys.reactions import DAY, Feeling, active, explain, nps_band, reaction_from

RAW = {
    "when": {"open_case": True, "nps": "detractor", "within_days": 14},
    "boost": {"tag": "recovery", "factor": 10},
    "suppress": {"tags": ["promo"], "channels": ["push", "email"]},
    "reason": "we're sorry about your {touchpoint}",
}
NOW = 1_800_000_000.0


@pytest.mark.parametrize(("score", "band"), [(0, "detractor"), (6, "detractor"),
                                             (7, "passive"), (8, "passive"), (9, "promoter"),
                                             (10, "promoter")])  # fmt: skip
def test_nps_bands(score, band):
    assert nps_band(score) == band


def test_a_reaction_needs_every_condition():
    reaction = reaction_from(RAW)
    unhappy = Feeling(nps=3, nps_at=NOW - DAY, open_cases=("delivery",))
    assert active([reaction], unhappy, NOW) == [reaction]
    assert active([reaction], Feeling(nps=3, nps_at=NOW - DAY), NOW) == []  # no open case
    assert active([reaction], Feeling(9, NOW - DAY, ("delivery",)), NOW) == []  # promoter
    stale = Feeling(nps=3, nps_at=NOW - 15 * DAY, open_cases=("delivery",))
    assert active([reaction], stale, NOW) == []  # older than within_days
    batch_only = Feeling(nps=3, nps_at=None, open_cases=("delivery",))
    assert active([reaction], batch_only, NOW) == []  # age unknown: no suppression


def test_what_a_reaction_favours_suppresses_and_says():
    reaction = reaction_from(RAW)
    assert reaction.favours({"tags": ["recovery", "care"]})
    assert not reaction.favours({"tags": ["promo"]})
    assert reaction.suppresses({"tags": ["promo"]}, "email")
    assert not reaction.suppresses({"tags": ["promo"]}, "web")
    assert explain(reaction, Feeling(3, NOW, ("call_centre",))) == (
        "we're sorry about your call centre")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("reactions:\n  - when: {nps: grumpy}\n    boost: {tag: x, factor: 2}\n",
         "reactions[0].when.nps"),
        ("reactions:\n  - boost: {tag: x, factor: 2}\n", "reactions[0]"),
        ("reactions:\n  - when: {open_case: true}\n", "reactions[0]"),
        ("reactions:\n  - when: {open_case: true}\n    suppress: {channels: [fax]}\n",
         "reactions[0].suppress.channels"),
        ("reactions:\n  - when: {open_case: yes please}\n    boost: {tag: x, factor: 2}\n",
         "reactions[0].when.open_case"),
    ],
)  # fmt: skip
def test_bad_reactions_are_refused_with_their_key_path(tmp_path, text, where):
    path = tmp_path / "default.yaml"
    path.write_text(text)
    with pytest.raises(BusinessRulesError) as error:
        parse_file(path)
    assert error.value.path == where


def test_other_features_files_beside_the_rules_are_not_rules(tmp_path):
    from recsys.business_rules import load_rulebook

    (tmp_path / "cases.yaml").write_text("thresholds: {nps: {max: 5}}\n")
    (tmp_path / "default.yaml").write_text("reactions:\n" + "\n".join(
        ["  - when: {nps: promoter}", "    boost: {tag: referral, factor: 3}"]) + "\n")  # fmt: skip
    book = load_rulebook(tmp_path)
    assert set(book.files) == {"default"}
    assert book.resolve("web").reactions[0].boost_tag == "referral"
