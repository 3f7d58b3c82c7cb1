"""Load and validate the data directory's tables (CSV or Parquet) into canonical DataFrames.

Every table is read completely and validated before anything is returned, so a bad file
raises one `DataError` (file, row, column, reason) and nothing is half-imported.
Canonical dtypes are fixed here once: ids and text as pyarrow strings, enums as
categories, timestamps as UTC `datetime64[ns]`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from contracts.errors import DataError
from contracts.people import PERSONALISATION, apply_people
from contracts.schema import RATING_RANGE, SURVEY_RANGES, TABLES, Column, Table
from contracts.tombstones import drop_erased

STRING = pd.StringDtype("pyarrow")


def arrow_schema(table: Table, *, timestamp_unit: str = "ms") -> pa.Schema:
    """The on-disk Arrow schema of a table: exactly the contract's columns, in its order
    (lists are stored as text; timestamps in UTC at `timestamp_unit`)."""
    types = {"id": pa.string(), "str": pa.string(), "category": pa.string(),
             "list": pa.string(), "int": pa.int64(), "float": pa.float64(),
             "bool": pa.bool_(), "timestamp": pa.timestamp(timestamp_unit, tz="UTC")}  # fmt: skip
    return pa.schema([pa.field(c.name, types[c.type]) for c in table.columns])


TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", ""})


def table_files(data_dir: Path | str, name: str) -> list[Path]:
    """The files holding table `name`: `<name>.parquet` or `<name>.csv`, plus ingested
    partitions under `<name>/*.parquet`."""
    root = Path(data_dir)
    files = [p for p in (root / f"{name}.parquet", root / f"{name}.csv") if p.is_file()]
    if len(files) > 1:
        raise DataError(str(files[1]), None, None, f"both {name}.parquet and {name}.csv exist")
    part_dir = root / name
    if part_dir.is_dir():
        files.extend(sorted(part_dir.glob("*.parquet")))
    return files


def load_table(
    data_dir: Path | str, name: str, *, required: bool = True, purpose: str = PERSONALISATION
) -> pd.DataFrame:
    """Read and validate one table; an absent optional table is an empty frame. Events and
    feedback come with merged visitor ids mapped and the rows of customers who withdrew
    consent to `purpose` left out (`contracts.people`)."""
    table = TABLES[name]
    files = table_files(data_dir, name)
    if not files:
        if required:
            raise DataError(str(Path(data_dir) / f"{name}.csv"), None, None, "file not found")
        return empty_frame(table)
    frames = [_validate(table, _read_raw(path), str(path)) for path in files]
    frame = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
    frame = _dedupe(table, frame, str(files[0]))
    if name in ("events", "feedback"):
        frame = apply_people(frame, data_dir, name, purpose)
    return drop_erased(frame, data_dir)  # erased: never back


def load_tables(data_dir: Path | str, *, purpose: str = PERSONALISATION) -> dict[str, pd.DataFrame]:
    """All four tables; `events` and `items` are required, the others may be absent.
    `purpose`: what the batch loads for (`contracts.people`: whose consent it needs)."""
    return {
        name: load_table(data_dir, name, required=name in ("events", "items"), purpose=purpose)
        for name in ("customers", "items", "events", "feedback")
    }


def with_defaults(frame: pd.DataFrame, table: Table) -> pd.DataFrame:
    """`frame` with every column of `table` it lacks added at its documented default (for
    tables built in code rather than loaded)."""
    missing = {
        c.name: _default(c, len(frame)).to_numpy() for c in table.columns if c.name not in frame
    }
    return frame.assign(**missing) if missing else frame


def empty_frame(table: Table) -> pd.DataFrame:
    raw = pd.DataFrame({c.name: pd.Series([], dtype=object) for c in table.columns})
    return _validate(table, raw, f"<empty {table.name}>")


def _read_raw(path: Path) -> pd.DataFrame:
    """Read a file with every column as text (CSV) or its stored types (Parquet)."""
    if path.suffix == ".parquet":
        try:
            arrow = pq.read_table(path)
        except (pa.ArrowException, OSError) as exc:
            raise DataError(str(path), None, None, f"not a readable Parquet file: {exc}") from exc
        return arrow.to_pandas(types_mapper={pa.string(): STRING, pa.large_string(): STRING}.get)
    raw = path.read_bytes()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        line_start = raw.rfind(b"\n", 0, exc.start) + 1
        field = raw.count(b",", line_start, exc.start)
        header = raw.split(b"\n", 1)[0].decode("utf-8", "replace").strip().split(",")
        column = header[field] if field < len(header) else None
        raise DataError(
            str(path), line - 1, column, f"not UTF-8 (byte 0x{raw[exc.start]:02x} on line {line})"
        ) from exc
    if not raw.strip():
        raise DataError(str(path), None, None, "file is empty (no header row)")
    try:
        return pd.read_csv(
            path, dtype=str, keep_default_na=False, engine="pyarrow", encoding="utf-8"
        ).astype(STRING)
    except (pa.ArrowInvalid, ValueError) as exc:
        raise DataError(str(path), None, None, f"malformed CSV: {exc}") from exc


def _validate(table: Table, raw: pd.DataFrame, file: str) -> pd.DataFrame:
    raw.columns = [str(c).strip() for c in raw.columns]
    missing = [c for c in table.required_columns if c not in raw.columns]
    if missing:
        raise DataError(file, None, missing[0], "required column is missing")
    out: dict[str, pd.Series] = {}
    for col in table.columns:
        if col.name in raw.columns:
            if col.required and col.type not in ("id", "timestamp"):
                _fail_at(_text(raw[col.name]) == "", raw[col.name], file, col.name, "empty value")
            out[col.name] = _convert(col, raw[col.name], file)
        else:
            out[col.name] = _default(col, len(raw))
    for extra in raw.columns:
        if extra not in out:
            out[extra] = raw[extra]
    frame = pd.DataFrame(out, index=pd.RangeIndex(len(raw)))
    if table.name == "feedback":
        _check_survey_scores(frame, file)
    if table.name == "events":
        _check_ratings(frame, raw, file)
    return frame


def _check_survey_scores(frame: pd.DataFrame, file: str) -> None:
    for survey, (low, high) in SURVEY_RANGES.items():
        scores = frame["score"]
        bad = (frame["survey"] == survey) & ((scores < low) | (scores > high)).fillna(False)
        _fail_at(bad, scores, file, "score", f"{survey} score outside {low}-{high}")


def _check_ratings(frame: pd.DataFrame, raw: pd.DataFrame, file: str) -> None:
    """A `rate` event carries its rating as `value`, inside `RATING_RANGE`."""
    rated = (frame["type"] == "rate").to_numpy()
    if not rated.any():
        return
    if "value" not in raw.columns:
        _fail_at(rated, frame["type"], file, "value", "a rate event needs a value (the rating)")
    given = _text(raw["value"]) != ""
    _fail_at(rated & ~given.to_numpy(), raw["value"], file, "value", "a rate event needs a value")
    low, high = RATING_RANGE
    value = frame["value"]
    outside = rated & ((value < low) | (value > high)).to_numpy()
    _fail_at(outside, value, file, "value", f"rating outside {low:g}-{high:g}")


def _fail_at(
    mask: np.ndarray | pd.Series, values: pd.Series, file: str, col: str, why: str
) -> None:
    bad = np.flatnonzero(np.asarray(mask, dtype=bool))
    if len(bad):
        row = int(bad[0])
        shown = values.iloc[row]
        detail = "" if shown is None or shown is pd.NA else f" {str(shown)!r}"
        more = f" ({len(bad)} rows in all)" if len(bad) > 1 else ""
        raise DataError(file, row + 1, col, f"{why}{detail}{more}")


def _text(values: pd.Series) -> pd.Series:
    if values.dtype == STRING:
        return values.fillna("").str.strip()
    return values.astype(object).where(values.notna(), "").astype(str).astype(STRING).str.strip()


def _convert(col: Column, values: pd.Series, file: str) -> pd.Series:
    kind = col.type
    if kind == "id":
        text = _text(values)
        _fail_at(text == "", values, file, col.name, "empty id")
        return text
    if kind in ("str", "list"):
        return _text(values)
    if kind == "category":
        return _category(col, values, file)
    if kind == "timestamp":
        return _timestamps(col, values, file)
    if kind == "bool":
        if values.dtype == bool:
            return values
        text = _text(values).str.lower()
        ok = text.isin(TRUE_WORDS | FALSE_WORDS)
        _fail_at(~ok, values, file, col.name, "not a boolean (true/false)")
        if col.default is True:
            return (text.isin(TRUE_WORDS) | (text == "")).astype(bool)
        return text.isin(TRUE_WORDS).astype(bool)
    numbers = _numbers(col, values, file)
    if kind == "int":
        _fail_at(numbers.notna() & (numbers % 1 != 0), values, file, col.name, "not an integer")
        if col.default is None:
            return numbers.astype("Int64")
        return numbers.fillna(float(str(col.default))).astype(np.int64)
    return numbers.fillna(float(str(col.default or 0.0))).astype(np.float64)


def _category(col: Column, values: pd.Series, file: str) -> pd.Series:
    """Factorise first, then clean the few distinct values: per-row string work on tens of
    millions of events would dominate loading."""
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    cleaned = [str(u).strip() for u in uniques]
    if col.allowed is not None:
        cleaned = [c.lower() for c in cleaned]
    default = "" if col.default is None else str(col.default)
    cleaned = [c or default for c in cleaned]
    if col.allowed is None:
        names = sorted(set(cleaned) | ({default} if (codes < 0).any() else set()))
    else:
        names = list(col.allowed)
        unknown = [i for i, c in enumerate(cleaned) if c not in names]
        _fail_at(np.isin(codes, unknown), values, file, col.name, "unknown value")
    position = {name: i for i, name in enumerate(names)}
    lookup = np.array([position[c] for c in cleaned] + [position.get(default, -1)], np.int64)
    return pd.Series(pd.Categorical.from_codes(lookup[codes], dtype=pd.CategoricalDtype(names)))


def _numbers(col: Column, values: pd.Series, file: str) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    text = _text(values)
    numbers = pd.to_numeric(text.replace("", None), errors="coerce").astype(np.float64)
    _fail_at(numbers.isna() & (text != ""), values, file, col.name, "not a number")
    return numbers


def _timestamps(col: Column, values: pd.Series, file: str) -> pd.Series:
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").astype("datetime64[ns, UTC]")
    if pd.api.types.is_datetime64_dtype(values):
        return values.dt.tz_localize("UTC").astype("datetime64[ns, UTC]")
    text = _text(values)
    parsed = pd.to_datetime(text.replace("", None), errors="coerce", utc=True, format="ISO8601")
    _fail_at(parsed.isna() & (text != ""), values, file, col.name, "unparseable timestamp")
    if col.required:
        _fail_at(text == "", values, file, col.name, "empty timestamp")
    return parsed.astype("datetime64[ns, UTC]")


def _default(col: Column, n: int) -> pd.Series:
    empty = pd.Series([""] * n, dtype=STRING)
    return _convert(col, empty, "<default>") if col.type != "id" else empty


def _dedupe(table: Table, frame: pd.DataFrame, file: str) -> pd.DataFrame:
    """Duplicate keys: an error for customers and items; events and feedback keep the first
    occurrence, which makes re-ingesting the same event idempotent."""
    if table.key is None:
        return frame
    keys = frame[table.key]
    if pc.count_distinct(pa.array(keys)).as_py() == len(keys):
        return frame  # the usual case, checked with one Arrow hash pass
    dup = keys.duplicated()
    if table.name in ("customers", "items"):
        _fail_at(dup, frame[table.key], file, table.key, "duplicate id")
    return frame.loc[~dup].reset_index(drop=True)
