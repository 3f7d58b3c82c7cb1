"""Errors of the experiments domain; each carries its meaning so callers can map it (404, 422)."""

from __future__ import annotations


class ExperimentError(ValueError):
    """Base class of every experiments error."""


class InvalidExperiment(ExperimentError):
    """A definition breaks a rule (weights, control, layer overlap, ...).

    `source` names the file or experiment, `field` the offending field when known.
    """

    def __init__(self, source: str, reason: str, field: str | None = None) -> None:
        self.source = source
        self.field = field
        self.reason = reason
        where = f"{source}, field {field!r}" if field else source
        super().__init__(f"{where}: {reason}")

    def as_dict(self) -> dict[str, object]:
        return {"source": self.source, "field": self.field, "reason": self.reason}


class ExperimentNotFound(ExperimentError, LookupError):
    """No experiment has this key."""

    def __init__(self, key: str) -> None:
        self.key = key
        super().__init__(f"no experiment with key {key!r}")


class InvalidAnalysisInput(ExperimentError):
    """The per-customer arrays given to the statistics do not fit together."""
