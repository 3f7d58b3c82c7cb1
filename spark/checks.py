"""A table's raw columns, as Spark's readers give them, to the contract's canonical columns.

The same rules as `contracts.tables` (column names, types, defaults, enums and ranges all
read from `contracts.schema`; the words for true and false from `contracts.tables`), written
as Spark column expressions: `canonical` gives each contract column its converted value and
a list of checks, each a condition that marks a bad row, the reason and the value to show.
A caller evaluates every check in one pass and reports the first bad row in input order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pyspark.sql import Column as SparkColumn
from pyspark.sql import functions as F
from pyspark.sql import types as T

from contracts.schema import RATING_RANGE, SURVEY_RANGES, Column, Table
from contracts.tables import FALSE_WORDS, TRUE_WORDS


@dataclass(frozen=True)
class Check:
    """Rows where `bad` holds fail with `why` on `column`; `shown` is the value quoted."""

    column: str
    bad: SparkColumn
    why: str
    shown: SparkColumn


def canonical(table: Table, types: dict[str, T.DataType]) -> tuple[list[SparkColumn], list[Check]]:
    """The contract's columns (converted, or at their default when absent), then the extra
    columns unchanged; and every check of the table's rows. `types`: the raw columns."""
    values: list[SparkColumn] = []
    checks: list[Check] = []
    for col in table.columns:
        if col.name in types:
            raw = F.col(f"`{col.name}`")
            if col.required and col.type not in ("id", "timestamp"):
                checks.append(Check(col.name, _text(raw, types[col.name]) == "", "empty value",
                                    raw.cast("string")))  # fmt: skip
            value, more = _convert(col, raw, types[col.name])
            checks.extend(more)
        else:
            value = _default(col)
        values.append(value.alias(col.name))
    values.extend(F.col(f"`{name}`") for name in types if name not in table.names)
    if table.name == "feedback":
        checks.extend(_survey_scores(table, types))
    if table.name == "events":
        checks.extend(_ratings(table, types))
    return values, checks


def _text(raw: SparkColumn, kind: T.DataType) -> SparkColumn:
    text = raw if isinstance(kind, T.StringType) else raw.cast("string")
    return F.trim(F.coalesce(text, F.lit("")))


def _convert(col: Column, raw: SparkColumn, kind: T.DataType) -> tuple[SparkColumn, list[Check]]:
    text = _text(raw, kind)
    shown = raw.cast("string")
    if col.type == "id":
        return text, [Check(col.name, text == "", "empty id", shown)]
    if col.type in ("str", "list"):
        return text, []
    if col.type == "category":
        return _category(col, text, shown)
    if col.type == "timestamp":
        return _timestamp(col, raw, kind, text, shown)
    if col.type == "bool":
        if isinstance(kind, T.BooleanType):
            return F.coalesce(raw, F.lit(col.default is True)), []
        lower = F.lower(text)
        words = sorted(TRUE_WORDS | FALSE_WORDS)
        check = Check(col.name, ~lower.isin(words), "not a boolean (true/false)", shown)
        value = lower.isin(sorted(TRUE_WORDS))
        if col.default is True:
            value = value | (lower == "")
        return value, [check]
    if isinstance(kind, T.NumericType) and not isinstance(kind, T.BooleanType):
        number = raw.cast("double")
        checks = []
    else:
        number = F.when(text != "", text.try_cast("double"))
        checks = [Check(col.name, (text != "") & number.isNull(), "not a number", shown)]
    if col.type == "int":
        whole = Check(col.name, number.isNotNull() & (number % 1 != 0), "not an integer", shown)
        if col.default is None:
            return number.cast("long"), [*checks, whole]
        return F.coalesce(number, F.lit(float(str(col.default)))).cast("long"), [*checks, whole]
    return F.coalesce(number, F.lit(float(str(col.default or 0.0)))), checks


def _category(
    col: Column, text: SparkColumn, shown: SparkColumn
) -> tuple[SparkColumn, list[Check]]:
    cleaned = text if col.allowed is None else F.lower(text)
    default = "" if col.default is None else str(col.default)
    value = F.when(cleaned == "", F.lit(default)).otherwise(cleaned)
    if col.allowed is None:
        return value, []
    return value, [Check(col.name, ~value.isin(list(col.allowed)), "unknown value", shown)]


def _timestamp(
    col: Column, raw: SparkColumn, kind: T.DataType, text: SparkColumn, shown: SparkColumn
) -> tuple[SparkColumn, list[Check]]:
    if isinstance(kind, T.TimestampType | T.TimestampNTZType | T.DateType):
        # a zone-less Parquet timestamp is read as UTC (the session's zone), as pandas does
        value = raw.cast("timestamp")
        checks = []
    else:
        value = F.when(text != "", text.try_cast("timestamp"))
        checks = [Check(col.name, (text != "") & value.isNull(), "unparseable timestamp", shown)]
    if col.required:
        checks.append(Check(col.name, value.isNull(), "empty timestamp", shown))
    return value, checks


def _default(col: Column) -> SparkColumn:
    if col.type == "timestamp":
        return F.lit(None).cast("timestamp")
    if col.type == "int" and col.default is None:
        return F.lit(None).cast("long")
    if col.type == "category":
        return F.lit("" if col.default is None else str(col.default))
    if col.type in ("id", "str", "list"):
        return F.lit(str(col.default or ""))
    if col.type == "bool":
        return F.lit(col.default is True)
    if col.type == "int":
        return F.lit(int(str(col.default))).cast("long")
    return F.lit(float(str(col.default or 0.0)))


def _survey_scores(table: Table, types: dict[str, T.DataType]) -> list[Check]:
    survey, score = _converted(table, "survey", types), _converted(table, "score", types)
    return [
        Check(
            "score",
            (survey == name) & ((score < low) | (score > high)),
            f"{name} score outside {low}-{high}",
            score.cast("string"),
        )
        for name, (low, high) in SURVEY_RANGES.items()
    ]


def _ratings(table: Table, types: dict[str, T.DataType]) -> list[Check]:
    """A `rate` event carries its rating as `value`, inside `RATING_RANGE`."""
    rated = _converted(table, "type", types) == "rate"
    if "value" not in types:
        return [Check("value", rated, "a rate event needs a value (the rating)", F.lit(None))]
    raw = F.col("value")
    given = _text(raw, types["value"]) != ""
    low, high = RATING_RANGE
    value = _converted(table, "value", types)
    return [
        Check("value", rated & ~given, "a rate event needs a value", raw.cast("string")),
        Check(
            "value",
            rated & ((value < low) | (value > high)),
            f"rating outside {low:g}-{high:g}",
            raw.cast("string"),
        ),
    ]


def _converted(table: Table, name: str, types: dict[str, T.DataType]) -> SparkColumn:
    """Column `name` converted as `canonical` converts it (for checks across columns)."""
    col = table.column(name)
    if name not in types:
        return _default(col)
    return _convert(col, F.col(f"`{name}`"), types[name])[0]


def first_failure(checks: Sequence[Check]) -> SparkColumn:
    """Per row: null when every check passes, else (column, why, shown) of the first failing
    check, in the contract's column order."""
    failure = F.lit(None).cast("struct<column:string,why:string,shown:string>")
    for check in reversed(checks):
        found = F.struct(F.lit(check.column).alias("column"), F.lit(check.why).alias("why"),
                         check.shown.cast("string").alias("shown"))  # fmt: skip
        failure = F.when(F.coalesce(check.bad, F.lit(False)), found).otherwise(failure)
    return failure
