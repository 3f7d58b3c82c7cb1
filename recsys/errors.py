"""Domain errors of the recommendation engine; each class names what went wrong and, by its
kind from `contracts.errors`, how a caller reports it. Bad input is `contracts.errors.
InvalidInput` itself (the same class every package raises)."""

from __future__ import annotations

from contracts.errors import Conflict, InvalidInput, NotFound, TouchpointError


class RecsysError(TouchpointError):
    """Base class of every recsys error."""


class UnknownIdError(RecsysError, InvalidInput, KeyError):
    """An external customer or item id is not in the id map."""

    def __init__(self, kind: str, unknown: list[str], total: int) -> None:
        self.kind = kind
        self.unknown = unknown
        shown = ", ".join(repr(u) for u in unknown[:5])
        more = f" (and {total - 5} more)" if total > 5 else ""
        super().__init__(f"unknown {kind} id(s): {shown}{more}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0])


class UnknownModelError(RecsysError, NotFound, KeyError):
    """No model implementation is registered under the requested name."""

    def __str__(self) -> str:
        return str(self.args[0])


class NotFittedError(RecsysError, RuntimeError):
    """The model was used before `fit` (or `load`): a bug of the caller, no kind of its own."""


class ModelTooLargeError(RecsysError, InvalidInput, MemoryError):
    """The model cannot be trained on this catalogue size (e.g. EASE's items x items inverse)."""


class ModelFileError(RecsysError, InvalidInput, OSError):
    """A saved model is missing, corrupt or was written by another model class."""


class ModelRejected(RecsysError, Conflict):
    """Training produced a model that must not be published; `reason` says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class RegistryError(RecsysError, NotFound):
    """The model registry has no such thing: unknown version, nothing to roll back to, no
    active model, an unreadable active pointer."""
