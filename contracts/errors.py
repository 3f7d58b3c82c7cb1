"""The one error a bad data file raises: file, row, column and reason."""

from __future__ import annotations


class DataError(ValueError):
    """Bad input data. `row` is the 1-based data row (the header is not counted)."""

    def __init__(self, file: str, row: int | None, column: str | None, reason: str) -> None:
        self.file = file
        self.row = row
        self.column = column
        self.reason = reason
        super().__init__(self.describe())

    def describe(self) -> str:
        where = [self.file]
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        return f"{', '.join(where)}: {self.reason}"

    def as_dict(self) -> dict[str, object]:
        return {"file": self.file, "row": self.row, "column": self.column, "reason": self.reason}
