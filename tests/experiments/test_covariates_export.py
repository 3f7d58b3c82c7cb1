"""Pre-period spend (the CUPED covariate) and the flat CSV export."""

from __future__ import annotations

import csv
import io

import pandas as pd

from experiments.covariates import pre_period_spend
from experiments.export import COLUMNS, to_csv
from experiments.results import analyse


def events(rows: list[tuple[str, str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "type", "timestamp", "value"])
    frame["customer_id"] = frame["customer_id"].astype(pd.StringDtype("pyarrow"))
    frame["type"] = frame["type"].astype("category")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def test_only_purchases_before_each_customers_cutoff_count() -> None:
    ev = events([
        ("a", "purchase", "2026-10-01T00:00:00Z", 10.0),
        ("a", "purchase", "2026-10-20T00:00:00Z", 5.0),
        ("a", "purchase", "2026-11-02T00:00:00Z", 99.0),  # after the cutoff
        ("a", "view", "2026-10-01T00:00:00Z", 7.0),  # not a purchase
        ("b", "purchase", "2026-10-01T00:00:00Z", 3.0),
        ("z", "purchase", "2026-10-01T00:00:00Z", 50.0),  # not in the experiment
    ])  # fmt: skip
    nov1 = pd.Timestamp("2026-11-01", tz="UTC").timestamp()
    oct15 = pd.Timestamp("2026-10-15", tz="UTC").timestamp()
    spend = pre_period_spend(ev, customer_ids=["a", "b", "c"], cutoffs=[nov1, oct15, nov1])
    assert spend == {"a": 15.0, "b": 3.0, "c": 0.0}


def test_csv_has_one_row_per_variant_and_blank_cells_where_nothing_applies() -> None:
    res = analyse(
        variant=["control", "control", "v1", "v1"],
        conversions=[1, 0, 1, 1],
        revenue=[10.0, 0.0, 5.0, 7.0],
        weights={"control": 50, "v1": 50},
        control="control",
    )
    rows = list(csv.DictReader(io.StringIO(to_csv(res))))
    assert list(rows[0]) == list(COLUMNS)
    assert [r["variant"] for r in rows] == ["control", "v1"]
    assert rows[0]["cr_lift_abs"] == "" and rows[0]["users"] == "2"
    assert float(rows[1]["cr_lift_abs"]) == 0.5
    assert rows[1]["rpu_cuped_lift_abs"] == ""  # no pre-period spend given
