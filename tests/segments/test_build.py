from __future__ import annotations

import numpy as np
import pytest

from segments.build import build_segments, segment_deltas
from segments.definitions import parse_rules
from segments.errors import SegmentRuleError
from tests.segments import factories as f


def _inputs() -> dict[str, object]:
    rows = []
    for i in range(60):
        for k in range(i % 5):  # 0-4 orders each
            rows.append({"customer_id": f"c{i}", "timestamp": f"2024-0{1 + k}-{1 + i % 28:02d}",
                         "order_id": f"o{i}-{k}", "value": 10.0 * (i + 1),
                         "channel": "app" if i % 2 else "web", "item_id": f"i{i % 3}"})  # fmt: skip
    return {
        "customers": f.customers([f"c{i}" for i in range(60)]),
        "events": f.events(rows),
        "items": f.items({"i0": "books", "i1": "toys", "i2": "garden"}),
        "feedback": f.feedback([("c1", "nps", 10, "2024-01-01"), ("c2", "csat", 1, "2024-01-01")]),
    }


def test_table_catalogue_and_members_agree() -> None:
    rules = parse_rules("- name: big-app\n  rule: monetary >= 1000 and channel_share.app > 0.5")
    build = build_segments(**_inputs(), rules=rules)  # type: ignore[arg-type]
    table = build.table.set_index(build.table["customer_id"].astype(str))
    assert len(table) == 60
    for column in (
        "customer_id",
        "recency_days",
        "frequency",
        "monetary",
        "r_score",
        "f_score",
        "m_score",
        "rfm_segment",
        "lifecycle_stage",
        "cluster",
        "nps_group",
        "segments",
    ):
        assert column in build.table.columns  # fmt: skip
    assert (table.loc[table["frequency"] == 0, "lifecycle_stage"] == "prospect").all()
    assert table.loc["c1", "nps_group"] == "promoter"
    listed: dict[str, set[str]] = {str(name): set() for name in build.catalogue["name"]}
    for cid, names in table["segments"].items():
        for name in filter(None, str(names).split(";")):
            listed[name].add(cid)
    for row in build.catalogue.itertuples():
        name = str(row.name)
        assert set(build.members[name]) == listed[name]
        assert row.size == len(listed[name])
    expect_rule = set(table.index[(table["monetary"] >= 1000) & (table["channel_share.app"] > 0.5)])
    assert listed["big-app"] == expect_rule and expect_rule
    assert "csat-unhappy" in str(table.loc["c2", "segments"]).split(";")
    assert set(build.catalogue["family"]) == {"rfm", "lifecycle", "cluster", "feedback", "rule"}


def test_rule_names_must_not_clash_with_built_in_segments() -> None:
    rules = parse_rules("- name: rfm-champions\n  rule: monetary > 1")
    with pytest.raises(SegmentRuleError, match="clashes"):
        build_segments(**_inputs(), rules=rules)  # type: ignore[arg-type]


def test_deltas_list_who_entered_and_who_left() -> None:
    before = {"vip": np.array(["a", "b", "c"], dtype=object), "gone": np.array(["x"])}
    after = {"vip": np.array(["c", "d", "a"], dtype=object), "fresh": np.array(["y", "x"])}
    deltas = segment_deltas(before, after)
    assert deltas["vip"].entered.tolist() == ["d"] and deltas["vip"].exited.tolist() == ["b"]
    assert deltas["fresh"].entered.tolist() == ["x", "y"] and deltas["fresh"].exited.size == 0
    assert deltas["gone"].exited.tolist() == ["x"] and deltas["gone"].entered.size == 0
