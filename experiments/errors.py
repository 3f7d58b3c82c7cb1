"""Errors of the experiments domain; each is of a kind from `contracts.errors` (not found,
invalid), which the CLI and the API map to an exit code and a status."""

from __future__ import annotations

from contracts.errors import InvalidInput, NotFound, TouchpointError


class ExperimentError(TouchpointError):
    """Base class of every experiments error."""


class InvalidExperiment(ExperimentError, InvalidInput):
    """A definition breaks a rule (weights, control, layer overlap, ...).

    `source` names the file or experiment, `field` the offending field when known.
    """

    def __init__(self, source: str, reason: str, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        where = f"{source}, field {field!r}" if field else source
        super().__init__(f"{where}: {reason}", field=field)

    @property
    def detail(self) -> str:  # a client that sent the definition knows its source
        return self.reason

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "field": self.field, "reason": self.reason}


class ExperimentNotFound(ExperimentError, NotFound):
    """No experiment has this key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no experiment with key {key!r}")


class InvalidAnalysisInput(ExperimentError, InvalidInput):
    """The per-customer arrays given to the statistics do not fit together."""
