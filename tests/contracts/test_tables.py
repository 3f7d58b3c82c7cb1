"""Loading the data directory: canonical dtypes, defaults, extras, one clear error per bad file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from contracts.errors import DataError
from contracts.tables import load_table, load_tables

EVENTS_HEADER = "event_id,customer_id,item_id,type,timestamp"


def write(dir_: Path, name: str, text: str | bytes) -> Path:
    path = dir_ / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def error_of(dir_: Path, table: str) -> DataError:
    with pytest.raises(DataError) as info:
        load_table(dir_, table)
    return info.value


def test_minimal_events_get_documented_defaults_and_keep_extra_columns(tmp_path):
    write(
        tmp_path,
        "events.csv",
        f"{EVENTS_HEADER},campaign\ne1,c1,i1,VIEW,2024-03-01T10:00:00+02:00,spring\n",
    )
    events = load_table(tmp_path, "events")
    row = events.iloc[0]
    assert row["type"] == "view"
    assert row["channel"] == "web" and row["quantity"] == 1 and row["value"] == 0.0
    assert row["timestamp"] == pd.Timestamp("2024-03-01T08:00:00Z")
    assert str(events["timestamp"].dtype) == "datetime64[ns, UTC]"
    assert row["campaign"] == "spring"


def test_csv_and_parquet_load_to_the_same_frame(tmp_path):
    csv_dir, pq_dir = tmp_path / "csv", tmp_path / "pq"
    csv_dir.mkdir(), pq_dir.mkdir()
    write(csv_dir, "items.csv", "item_id,kind,price,tags\ni1,product,9.5,a;b\ni2,offer,,\n")
    from_csv = load_table(csv_dir, "items")
    pd.DataFrame(
        {
            "item_id": ["i1", "i2"],
            "kind": ["product", "offer"],
            "price": [9.5, None],
            "tags": ["a;b", ""],
        }
    ).to_parquet(pq_dir / "items.parquet")
    from_parquet = load_table(pq_dir, "items")
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_categorical=False)


def test_missing_required_column_names_it(tmp_path):
    write(tmp_path, "events.csv", "event_id,customer_id,type,timestamp\ne1,c1,view,2024-01-01\n")
    err = error_of(tmp_path, "events")
    assert (err.column, err.row) == ("item_id", None)
    assert "required column is missing" in str(err) and "events.csv" in str(err)


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ("e2,c1,i1,view,yesterday", "timestamp", "unparseable timestamp 'yesterday'"),
        ("e2,c1,i1,teleport,2024-01-01", "type", "unknown value 'teleport'"),
        ("e2,,i1,view,2024-01-01", "customer_id", "empty id"),
    ],
)
def test_bad_event_values_name_file_row_column_and_reason(tmp_path, row, column, reason):
    write(tmp_path, "events.csv", f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\n{row}\n")
    err = error_of(tmp_path, "events")
    assert err.row == 2 and err.column == column and reason in err.reason
    assert err.file.endswith("events.csv")


def test_unknown_item_kind_is_rejected(tmp_path):
    write(tmp_path, "items.csv", "item_id,kind\ni1,gadget\n")
    err = error_of(tmp_path, "items")
    assert (err.row, err.column) == (1, "kind")


@pytest.mark.parametrize("table", ["customers", "items"])
def test_duplicate_ids_in_customers_and_items_are_errors(tmp_path, table):
    key = "customer_id" if table == "customers" else "item_id"
    write(tmp_path, f"{table}.csv", f"{key}\nx1\nx2\nx1\n")
    err = error_of(tmp_path, table)
    assert (err.row, err.column) == (3, key) and "duplicate id" in err.reason


def test_duplicate_event_ids_keep_the_first_occurrence(tmp_path):
    write(
        tmp_path,
        "events.csv",
        f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\ne1,c1,i2,click,2024-01-02\n",
    )
    events = load_table(tmp_path, "events")
    assert events["item_id"].tolist() == ["i1"]


def test_non_utf8_file_points_at_the_row_and_column(tmp_path):
    write(
        tmp_path,
        "events.csv",
        f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\ne2,c\xe9,i1,view,2024-01-01\n".encode(
            "latin-1"
        ),
    )
    err = error_of(tmp_path, "events")
    assert (err.row, err.column) == (2, "customer_id") and "UTF-8" in err.reason


def test_feedback_score_outside_the_survey_range_is_rejected(tmp_path):
    write(
        tmp_path,
        "feedback.csv",
        "response_id,customer_id,survey,score,timestamp\nr1,c1,csat,5,2024-01-01\nr2,c1,csat,6,2024-01-01\n",
    )
    err = error_of(tmp_path, "feedback")
    assert (err.row, err.column) == (2, "score") and "csat" in err.reason


@pytest.mark.parametrize(
    ("rows", "row", "reason"),
    [
        ("e1,c1,i1,rate,2024-01-01,4\ne2,c1,i2,rate,2024-01-01,\n", 2, "needs a value"),
        ("e1,c1,i1,rate,2024-01-01,10.5\n", 1, "rating outside 0-10"),
        ("e1,c1,i1,purchase,2024-01-01,\ne2,c1,i2,rate,2024-01-01,-1\n", 2, "outside"),
    ],
)
def test_a_rating_needs_a_value_within_the_contract_range(tmp_path, rows, row, reason):
    write(tmp_path, "events.csv", f"{EVENTS_HEADER},value\n{rows}")
    err = error_of(tmp_path, "events")
    assert (err.row, err.column) == (row, "value") and reason in err.reason


def test_ratings_without_a_value_column_are_refused_and_good_ones_load(tmp_path):
    write(
        tmp_path,
        "events.csv",
        f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\ne2,c1,i1,rate,2024-01-01\n",
    )
    err = error_of(tmp_path, "events")
    assert (err.row, err.column) == (2, "value") and "needs a value" in err.reason
    write(tmp_path, "events.csv", f"{EVENTS_HEADER},value\ne1,c1,i1,rate,2024-01-01,0.5\n")
    assert load_table(tmp_path, "events")["value"].tolist() == [0.5]


def test_non_numeric_price_is_rejected(tmp_path):
    write(tmp_path, "items.csv", "item_id,price\ni1,cheap\n")
    err = error_of(tmp_path, "items")
    assert (err.row, err.column) == (1, "price") and "not a number" in err.reason


def test_missing_required_table_is_an_error_optional_ones_are_empty(tmp_path):
    write(tmp_path, "items.csv", "item_id\ni1\n")
    with pytest.raises(DataError, match="file not found"):
        load_tables(tmp_path)
    write(tmp_path, "events.csv", f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\n")
    tables = load_tables(tmp_path)
    assert len(tables["customers"]) == 0 and "loyalty_tier" in tables["customers"]


def test_ingested_partitions_are_appended_to_the_main_file(tmp_path):
    write(tmp_path, "events.csv", f"{EVENTS_HEADER}\ne1,c1,i1,view,2024-01-01\n")
    (tmp_path / "events").mkdir()
    pd.DataFrame(
        {
            "event_id": ["e1", "e2"],
            "customer_id": ["c1", "c2"],
            "item_id": ["i1", "i9"],
            "type": ["view", "purchase"],
            "timestamp": pd.to_datetime(["2024-01-01", "2024-01-03"], utc=True),
        }
    ).to_parquet(tmp_path / "events" / "part-1.parquet")
    events = load_table(tmp_path, "events")
    assert events["event_id"].tolist() == ["e1", "e2"]


def test_an_empty_file_is_an_error_not_an_empty_table(tmp_path):
    write(tmp_path, "events.csv", "")
    err = error_of(tmp_path, "events")
    assert err.file.endswith("events.csv") and "empty" in err.reason
