"""One error family: every exception class the product packages define derives from
`contracts.errors.TouchpointError`, so the CLI and the API can map each by its kind."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

from contracts import errors

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "contracts", "experiments", "jobs", "recsys", "segments", "store")
KINDS = (errors.InvalidInput, errors.NotFound, errors.Conflict, errors.Unavailable)


def defined_exceptions() -> dict[str, type[BaseException]]:
    """Every exception class defined (not imported) in a module of the product packages."""
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        for module in pkgutil.walk_packages([str(ROOT / package)], prefix=f"{package}."):
            loaded = importlib.import_module(module.name)
            for name, value in vars(loaded).items():
                defined_here = getattr(value, "__module__", None) == module.name
                if inspect.isclass(value) and defined_here and issubclass(value, BaseException):
                    found[f"{module.name}.{name}"] = value
    return found


def test_every_error_the_packages_define_is_a_touchpoint_error() -> None:
    found = defined_exceptions()
    assert len(found) > 20  # the walk saw the packages
    outside = [name for name, cls in found.items() if not issubclass(cls, errors.TouchpointError)]
    assert sorted(outside) == []


def test_no_two_error_classes_share_a_name() -> None:
    names = [qualified.rsplit(".", 1)[1] for qualified in defined_exceptions()]
    assert sorted({n for n in names if names.count(n) > 1}) == []


def test_bad_input_is_one_class_for_every_package() -> None:
    from recsys import errors as recsys_errors
    from segments import errors as segments_errors

    assert not hasattr(recsys_errors, "InvalidInputError")
    assert not hasattr(segments_errors, "InvalidInputError")
    assert issubclass(errors.DataError, errors.InvalidInput)
    assert issubclass(errors.InvalidInput, ValueError)  # as both InvalidInputErrors were


def test_a_data_error_names_file_row_column_and_reason() -> None:
    error = errors.DataError("events.csv", 2, "timestamp", "unparseable timestamp 'yesterday'")
    assert str(error) == "events.csv, row 2, column 'timestamp': unparseable timestamp 'yesterday'"
    assert error.detail == str(error) and error.details == {}


def test_the_kinds_do_not_overlap() -> None:
    for kind in KINDS:
        assert [other for other in KINDS if issubclass(kind, other)] == [kind]
