from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segments.definitions import evaluate_rules, load_rules, parse_rules
from segments.errors import SegmentRuleError

S = pd.StringDtype("pyarrow")
FRAME = pd.DataFrame({
    "monetary": [600.0, 100.0, np.nan, 900.0],
    "channel_share.app": [0.6, 0.9, 0.7, 0.2],
    "rfm_segment": pd.array(["At Risk", "Lost", None, "Cannot Lose Them"], dtype=S),
    "csat_unhappy": [True, False, True, False],
})  # fmt: skip


def _eval(rule: str) -> list[bool]:
    rules = parse_rules(f"segments:\n  - name: r1\n    rule: '{rule}'")
    return evaluate_rules(rules, FRAME)["r1"].tolist()


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        ('monetary >= 500 and channel_share.app > 0.5 and rfm_segment in ["At Risk", "Lost"]',
         [True, False, False, False]),
        ("monetary < 200 or csat_unhappy", [True, True, True, False]),
        ("not (monetary > 700)", [True, True, True, False]),  # NaN > 700 is false
        ('rfm_segment not in ["Lost"]', [True, False, False, True]),  # missing: never in/not in
        ('rfm_segment == "Lost" or (monetary == 900 and not csat_unhappy)',
         [False, True, False, True]),
        ("csat_unhappy == true and channel_share.app >= 0.7", [False, False, True, False]),
        ("monetary != 100", [True, False, False, True]),
        ('rfm_segment == "it\\"s"', [False, False, False, False]),
    ],
)  # fmt: skip
def test_rules_select_the_right_rows(rule: str, expected: list[bool]) -> None:
    assert _eval(rule) == expected


@pytest.mark.parametrize(
    ("rule", "message", "position"),
    [
        ("monetry > 5", "unknown column 'monetry' (did you mean 'monetary'?)", 0),
        ('monetary >= "a"', "cannot compare number column 'monetary' with string 'a'", 9),
        ('rfm_segment < "a"', "'<' needs numbers", 12),
        ("monetary > 5 and", "expected a column", 16),
        ("(monetary > 1", "expected ')'", 13),
        ("monetary > 5 ; 3", "unexpected character ';'", 13),
        ('rfm_segment in [1, "a"]', "list holds number 1", 16),
        ("monetary", "not a condition", 0),
        ("monetary and csat_unhappy", "expected a condition, got number column", 0),
        ('__import__("os").system("true")', "unexpected character '.'", 16),
        ("__import__ == 1", "unknown column '__import__'", 0),
        ("", "empty rule", 0),
    ],
)
def test_bad_rules_name_the_rule_and_point_at_the_problem(
    rule: str, message: str, position: int
) -> None:
    with pytest.raises(SegmentRuleError) as info:
        _eval(rule)
    assert info.value.rule == "r1"
    assert message in info.value.reason
    assert info.value.position == position
    assert "^" in str(info.value) or not rule


def test_yaml_file_problems(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("segments:\n  - name: vip\n    description: big\n    rule: monetary > 1\n")
    (rule,) = load_rules(path)
    assert (rule.name, rule.description) == ("vip", "big")
    with pytest.raises(SegmentRuleError, match="cannot read"):
        load_rules(tmp_path / "missing.yaml")
    bad = {
        "segments: [\n": "not valid YAML",
        "segments: 3": "expected a list",
        "- name: 'has space'\n  rule: monetary > 1": "must be 1-80 letters",
        "- name: a\n  rule: x > 1\n- name: a\n  rule: x > 2": "duplicate",
        "- name: a": "missing 'rule:'",
        "- name: a\n  rule: x > 1\n  colour: red": "unknown field",
    }
    for text, message in bad.items():
        with pytest.raises(SegmentRuleError, match=message):
            parse_rules(text)
