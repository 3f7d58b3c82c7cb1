"""`touchpoint erase --customer ID | --file IDS`: the right to erasure, from the command line.

Removes the customers from Redis (every live and kept version), rewrites the data directory
without them and records their tombstones (`jobs.erasure`); each erased customer is one
audit entry (`customers.erase`, its target the keyed hash: the trail never holds the id).
A file holds one id a line (blank lines are skipped); a bad id stops the command before
anything is erased, with the file and line (exit code 2).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import typer

from contracts.errors import DataError, InvalidInput
from contracts.requests import ID_MAX, ID_PATTERN
from jobs.common import DataDir, JsonFlag, report, setup_logging

_ID = re.compile(ID_PATTERN)


def read_ids(path: Path) -> list[str]:
    """The ids of a file, one a line; DataError with the line of the first bad one."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1
        raise DataError(str(path), line, None, "not UTF-8") from None
    except OSError as exc:
        raise DataError(str(path), None, None, f"cannot read: {exc.strerror}") from None
    ids = []
    for number, raw in enumerate(text.splitlines(), start=1):
        value = raw.strip()
        if not value:
            continue
        _check(value, str(path), number)
        ids.append(value)
    if not ids:
        raise DataError(str(path), None, None, "no customer id in the file")
    return ids


def _check(value: str, where: str, line: int | None) -> None:
    if len(value) > ID_MAX or not _ID.match(value):
        reason = f"not a customer id (no spaces, braces or control characters; ≤ {ID_MAX})"
        raise DataError(where, line, "customer_id", f"{reason}: {value[:40]!r}")


def erase(
    customer: Annotated[
        list[str] | None, typer.Option("--customer", help="A customer id (repeatable).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="A file of customer ids, one a line.", dir_okay=False),
    ] = None,
    data: DataDir = Path("data"),
    as_json: JsonFlag = False,
) -> None:
    """Erase customers from everything Touchpoint holds, and keep them out (tombstones)."""
    from jobs.audit_cmd import cli_actor
    from jobs.erasure import erase as run_erase
    from store.audit import append, audit_entry
    from store.client import connect
    from store.config import StoreConfig
    from store.keys import Keys

    if (customer is None) == (file is None):
        raise InvalidInput("give --customer ID (repeatable) or --file IDS, not both")
    if file is not None:
        ids = read_ids(file)
    else:
        ids = list(customer or [])
        for value in ids:
            _check(value, "--customer", None)
    setup_logging()
    config = StoreConfig(data_dir=data)
    keys = Keys(config.namespace)
    with connect(config) as client:
        done = run_erase(client, keys, data, sorted(set(ids)))
        counts = done.redis.counts()
        for stone in done.redis.tombstones:
            entry = audit_entry(who=cli_actor(), action="customers.erase", target=stone,
                                outcome="ok", detail=counts)  # fmt: skip
            append(client, keys, entry)
    rows: dict[str, object] = {"data": str(data), **counts}
    rows["files rewritten"] = len(done.files.files)
    rows["rows removed from files"] = done.files.removed
    rows["files not read (format)"] = len(done.files.unread)
    report("touchpoint erase", rows, as_json=as_json)


def register(app: typer.Typer) -> None:
    app.command("erase")(erase)
