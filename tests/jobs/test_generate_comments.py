"""The generator's touchpoints and comments agree with the journey map and speak two languages."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from contracts.schema import CHANNELS
from contracts.tables import load_table
from insights.journey import JOURNEY_FILE, load_journey
from jobs.generate import generate
from jobs.generate_comments import BY_TOUCHPOINT, MIDDLING
from jobs.generate_people import TOUCHPOINT_CHANNEL, TOUCHPOINTS

HANGUL = re.compile(r"[\uac00-\ud7a3]")
LATIN = re.compile(r"[A-Za-z]")
JOURNEY = load_journey(Path(__file__).resolve().parents[2] / "rules" / JOURNEY_FILE)


@pytest.fixture(scope="module")
def feedback(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    out = tmp_path_factory.mktemp("gen")
    generate(customers=3000, items=200, seed=11, out=out, events_per_customer=10)
    return load_table(out, "feedback")


def test_every_generated_touchpoint_is_in_the_map_with_the_maps_channel() -> None:
    for name, channel in zip(TOUCHPOINTS, TOUCHPOINT_CHANNEL, strict=True):
        assert name in JOURNEY.touchpoints, name
        assert JOURNEY.channel_of(name) == CHANNELS[channel], name
    stages = {JOURNEY.stage_of(t) for t in TOUCHPOINTS}
    assert stages == set(JOURNEY.stages)  # every stage of the journey is surveyed


def test_generated_feedback_carries_mapped_touchpoints_and_their_channels(feedback) -> None:
    assert JOURNEY.unmapped(feedback["touchpoint"]) == {}
    expected = feedback["touchpoint"].map(JOURNEY.channel_of)
    assert (feedback["channel"].astype(str) == expected).all()


def test_comments_are_in_korean_english_and_mixed_and_follow_the_score(feedback) -> None:
    written = feedback[feedback["comment"] != ""]
    assert 0.3 < len(written) / len(feedback) < 0.5
    korean = written["comment"].str.contains(HANGUL)
    latin = written["comment"].str.contains(LATIN)
    assert (korean & ~latin).mean() > 0.25
    assert (latin & ~korean).mean() > 0.25
    assert (korean & latin).mean() > 0.05
    good = {line for good, _ in BY_TOUCHPOINT.values() for line in good}
    bad = {line for _, bad in BY_TOUCHPOINT.values() for line in bad}
    nps = written[written["survey"] == "nps"]
    assert nps.loc[nps["comment"].isin(good), "score"].min() >= 7
    assert nps.loc[nps["comment"].isin(bad), "score"].max() <= 3
    assert set(nps.loc[nps["comment"].isin(MIDDLING), "score"]) <= set(range(4, 7))


def test_a_comment_is_about_its_touchpoint(feedback) -> None:
    for name, (good, bad) in BY_TOUCHPOINT.items():
        about = feedback[feedback["comment"].isin(set(good) | set(bad))]
        assert set(about["touchpoint"]) <= {name}, name
    assert np.all(np.isin(list(BY_TOUCHPOINT), TOUCHPOINTS))
