"""Configuration files re-read when they change: a good edit is picked up, a bad one keeps
the previous configuration in force while running and fails when strict (start-up)."""

from __future__ import annotations

import os

import pytest

from api.services.watched import WatchedFile
from contracts.yaml_lines import ConfigError
from insights.surveys import load_policy


def write(path, text: str, bump: int) -> None:
    path.write_text(text)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump * 1_000_000_000))


def test_edits_are_picked_up_and_bad_ones_keep_the_previous(tmp_path):
    path = tmp_path / "surveys.yaml"
    watched = WatchedFile(load_policy)
    write(path, "quiet_days: 5\nsurveys:\n  - {survey: csat}\n", 0)
    assert watched.current(path).quiet_days == 5
    write(path, "quiet_days: 9\nsurveys:\n  - {survey: csat}\n", 1)
    assert watched.current(path).quiet_days == 9
    write(path, "quiet_days: 9\nsurveys:\n  - {survey: csat, cooldown: 3}\n", 2)
    assert watched.current(path).quiet_days == 9  # running: the previous one stays
    with pytest.raises(ConfigError) as info:
        watched.current(path, strict=True)  # start-up: the bad file fails, with its line
    assert info.value.line == 3


def test_a_bad_file_with_nothing_loaded_before_fails(tmp_path):
    path = tmp_path / "surveys.yaml"
    path.write_text("quiet_days: [\n")
    with pytest.raises(ConfigError):
        WatchedFile(load_policy).current(path)
