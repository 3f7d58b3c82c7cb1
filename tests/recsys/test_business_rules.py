"""Rules files: validation names file, key path and reason; merging; hot reload by mtime."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.services import business_rules_watch
from api.services.business_rules_watch import RulesWatcher
from recsys.business_rules import Cap, all_windows, least_item_cap, load_rulebook
from recsys.business_rules_schema import BusinessRulesError

REPO_RULES = Path(__file__).resolve().parents[2] / "rules"


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "path", "reason"),
    [
        ("caps:\n  per_item: {max: -1, days: 7}\n", "caps.per_item.max", "positive integer"),
        ("caps:\n  per_item: {max: 2}\n", "caps.per_item.days", "is required"),
        ("diversity: {max_per_categry: 2}\n", "diversity.max_per_categry", "unknown key"),
        ("boosts:\n  - {tag: new, factor: 0}\n", "boosts[0].factor", "positive number"),
        ("boosts:\n  - {kind: planet, factor: 2}\n", "boosts[0].kind", "must be one of"),
        ("pins: {item_id: x}\n", "pins", "must be a list"),
        ("eligibility: {consent: maybe}\n", "eligibility.consent", "true or false"),
        ("caps:\n  per_channel: {sweets: {max: 1, days: 1}}\n", "caps.per_channel.sweets", "kind"),
    ],
)
def test_bad_rules_name_the_file_the_key_path_and_the_reason(tmp_path, text, path, reason):
    file = write(tmp_path, "email.yaml", text)
    with pytest.raises(BusinessRulesError) as caught:
        load_rulebook(tmp_path)
    assert caught.value.file == str(file) and caught.value.path == path
    assert reason in caught.value.reason
    assert str(file) in str(caught.value) and path in str(caught.value)


def test_unknown_channel_file_and_broken_yaml_are_errors(tmp_path):
    write(tmp_path, "fax.yaml", "{}\n")
    with pytest.raises(BusinessRulesError, match=r"fax\.yaml"):
        load_rulebook(tmp_path)
    (tmp_path / "fax.yaml").unlink()
    write(tmp_path, "web.yaml", "caps: [unclosed\n")
    with pytest.raises(BusinessRulesError, match="not valid YAML"):
        load_rulebook(tmp_path)


def test_channel_and_placement_files_override_the_default(tmp_path):
    write(
        tmp_path,
        "default.yaml",
        "diversity: {max_per_category: 4}\ncaps:\n  per_item: {max: 3, days: 7}\n",
    )
    write(tmp_path, "email.yaml", "caps:\n  per_channel: {offer: {max: 2, days: 7}}\n")
    write(tmp_path, "email.weekly.yaml", "diversity: {max_per_category: 1}\n")
    book = load_rulebook(tmp_path)
    web, email, weekly = book.resolve("web"), book.resolve("email"), book.resolve("email", "weekly")
    assert web.channel_caps == {} and web.max_per_category == 4
    assert email.channel_caps == {"offer": Cap(2, 7)} and email.item_cap == Cap(3, 7)
    assert weekly.max_per_category == 1 and weekly.channel_caps == {"offer": Cap(2, 7)}
    assert weekly.source == "default.yaml + email.yaml + email.weekly.yaml"
    assert email.needs_consent("email") and not web.needs_consent("web")
    assert all_windows(book) == {7}


def test_least_item_cap_is_the_lowest_item_cap_of_any_channel_or_profile(tmp_path):
    write(tmp_path, "default.yaml", "exclusions:\n  shown: {times: 6, days: 7}\n")
    assert least_item_cap(load_rulebook(tmp_path)) == 6
    write(tmp_path, "push.yaml", "caps:\n  per_item: {max: 3, days: 7}\n")
    assert least_item_cap(load_rulebook(tmp_path)) == 3
    (tmp_path / "profiles").mkdir()
    write(tmp_path / "profiles", "strict.yaml", "caps:\n  per_item: {max: 1, days: 30}\n")
    assert least_item_cap(load_rulebook(tmp_path)) == 1
    empty = tmp_path / "empty"
    empty.mkdir()
    write(empty, "default.yaml", "diversity: {max_per_category: 4}\n")
    assert least_item_cap(load_rulebook(empty)) is None


def test_the_shipped_example_rules_are_valid():
    book = load_rulebook(REPO_RULES)
    assert "default" in book.files and "email" in book.files
    assert book.resolve("email").channel_caps["offer"] == Cap(2, 7)
    margin = book.resolve("web", None, "margin")  # the profile the README points to
    assert margin.max_per_category == 2 and "profiles/margin.yaml" in margin.source


def test_watcher_reloads_a_changed_file_and_keeps_the_old_rules_on_a_bad_edit(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(business_rules_watch, "CHECK_EVERY", 0.0)
    path = write(tmp_path, "default.yaml", "diversity: {max_per_category: 4}\n")
    watcher = RulesWatcher(tmp_path)
    assert watcher.current().resolve(None).max_per_category == 4

    def edit(text: str, bump: int) -> None:
        path.write_text(text)
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + bump))  # same-second edits

    edit("diversity: {max_per_category: 2}\n", 10**9)
    assert watcher.current().resolve(None).max_per_category == 2
    edit("diversity: {max_per_category: zero}\n", 2 * 10**9)
    assert watcher.current().resolve(None).max_per_category == 2
    assert watcher.last_error is not None and "diversity.max_per_category" in watcher.last_error


def test_watcher_checks_at_most_once_a_second(tmp_path):
    path = write(tmp_path, "default.yaml", "diversity: {max_per_category: 4}\n")
    watcher = RulesWatcher(tmp_path)
    path.write_text("diversity: {max_per_category: 3}\n")
    os.utime(path, ns=(0, path.stat().st_mtime_ns + 10**9))
    assert watcher.current().resolve(None).max_per_category == 4  # not checked yet
    watcher.request_reload()  # what SIGHUP does
    assert watcher.current().resolve(None).max_per_category == 3
