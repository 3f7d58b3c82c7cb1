"""The batch's reading of ingested consent changes and identity merges (`contracts.people`),
on partitions written the way `touchpoint ingest` writes them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contracts.people import apply_people, identity_map, purposes_differ, withdrawn
from contracts.schema import CONSENT, IDENTITIES
from jobs.ingest import to_arrow, write_partition


def change(n: int, customer: str, at: str, **given: bool) -> dict:
    row = {"change_id": f"ch{n}", "customer_id": customer, "changed_at": at, "who": "test"}
    row.update({k: "true" if v else "false" for k, v in given.items()})
    return row


def write(data: Path, table, name: str, rows: list[dict]) -> None:
    write_partition(data / table.name / f"part-{name}.parquet", to_arrow(table, rows))


def test_the_latest_change_of_each_purpose_decides(tmp_path):
    write(tmp_path, CONSENT, "1-1", [
        change(1, "a", "2026-01-01T00:00:00+00:00", personalisation=False),
        change(2, "a", "2026-01-03T00:00:00+00:00", email=True),  # leaves it withdrawn
        change(3, "b", "2026-01-02T00:00:00+00:00", personalisation=False),
    ])  # fmt: skip
    write(tmp_path, CONSENT, "2-2", [  # a later partition, an earlier change: time decides
        change(4, "b", "2026-01-04T00:00:00+00:00", personalisation=True),
        change(5, "c", "2025-12-01T00:00:00+00:00", analytics=False),
    ])  # fmt: skip
    assert withdrawn(tmp_path, "personalisation") == {"a"}
    assert withdrawn(tmp_path, "analytics") == {"c"}
    assert withdrawn(tmp_path, "email") == set()
    assert purposes_differ(tmp_path)
    with pytest.raises(ValueError):
        withdrawn(tmp_path, "colour")


def test_merged_visitors_read_as_their_customer_and_inherit_withdrawal(tmp_path):
    write(tmp_path, IDENTITIES, "1-1", [
        {"merge_id": "m1", "anonymous_id": "v1", "customer_id": "a",
         "merged_at": "2026-01-01T00:00:00+00:00"},
        {"merge_id": "m2", "anonymous_id": "v2", "customer_id": "b",
         "merged_at": "2026-01-01T00:00:00+00:00"},
    ])  # fmt: skip
    write(tmp_path, CONSENT, "1-1", [
        change(1, "v2", "2026-01-02T00:00:00+00:00", personalisation=False),  # as a visitor
    ])  # fmt: skip
    assert identity_map(tmp_path) == {"v1": "a", "v2": "b"}
    events = pd.DataFrame({"customer_id": pd.Series(["v1", "a", "v2", "b", "z"], dtype="string")})
    out = apply_people(events, tmp_path, "events", "personalisation")
    assert out["customer_id"].tolist() == ["a", "a", "z"]  # b withdrew (as v2): both ids gone
    kept = apply_people(events, tmp_path, "events", "analytics")
    assert kept["customer_id"].tolist() == ["a", "a", "b", "b", "z"]


def test_nothing_ingested_changes_nothing(tmp_path):
    events = pd.DataFrame({"customer_id": pd.Series(["a", "b"], dtype="string")})
    assert apply_people(events, tmp_path, "events", "personalisation").equals(events)
    assert not purposes_differ(tmp_path)
