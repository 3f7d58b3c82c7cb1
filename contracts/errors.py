"""The one error family of every package: the base says "Touchpoint refused this on purpose",
the kind says why, and the CLI (`jobs.cli`) and the API (`api.problems`) each map the kinds
once:

| kind | means | CLI exit | API status |
|---|---|---|---|
| `InvalidInput` | bad input: a file, a definition, a parameter | 2 | 422 |
| `DataError` | an `InvalidInput` in a data file: file, row, column, reason | 2 | 422 |
| `NotFound` | what was asked for does not exist | 2 | 404 |
| `Conflict` | valid, but the state it meets refuses it | 1 | 409 |
| `Unavailable` | a service the step needs cannot be reached or started | 1 | 503 |
| `TouchpointError` | a step failed in a way no kind above says | 1 | 500 |

A package adds its own classes under these kinds (`recsys.errors`, `segments.errors`, ...);
nobody catches a package's own list to decide an exit code or a status.
"""

from __future__ import annotations


class TouchpointError(Exception):
    """Base of every error Touchpoint raises on purpose. `details` are facts a client may
    read beside the message (the API puts them in the problem body)."""

    def __init__(self, message: str = "", **details: object) -> None:
        super().__init__(message)
        self.details = details

    @property
    def detail(self) -> str:
        """The message for a client who knows what it sent (the API's problem `detail`)."""
        return str(self)


class InvalidInput(TouchpointError, ValueError):
    """Bad input: a data or definition file, a parameter, a request body."""


class NotFound(TouchpointError, LookupError):
    """What was asked for does not exist: a model version, an experiment, an API key."""


class Conflict(TouchpointError):
    """The request is valid but the state it meets refuses it: another ingest holds the
    lock, or a trained model is worse than popularity (the active version stays)."""


class Unavailable(TouchpointError):
    """A service the step needs cannot be reached or started (Redis)."""


class DataError(InvalidInput):
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
