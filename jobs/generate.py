"""`generate`: write a realistic synthetic data directory (customers, items, events, feedback).

Customers are simulated in fixed-size chunks, each with its own numpy Generator seeded from
(seed, chunk index), and every chunk is appended to the output files as soon as it is made,
so memory stays flat however many customers are asked for and the same seed always gives
byte-identical files. The time window ends on a date derived from the seed, never "now".
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from contracts.errors import InvalidInput
from contracts.schema import CHANNELS, EVENT_TYPES, LOYALTY_TIERS, SURVEYS, TABLES
from contracts.tables import arrow_schema
from jobs.generate_catalogue import Catalogue, make_catalogue
from jobs.generate_events import DAY, Outcome, World, build_world, finish, simulate
from jobs.generate_people import TOUCHPOINTS, People, draw_feedback, draw_people

CHUNK = 10_000  # customers per chunk (~500k events at the default rate)
WINDOW_DAYS = 548  # about 18 months of history
FIRST_END = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp())
FORMATS = ("parquet", "csv")
Progress = Callable[[int, int], None]  # (customers done, customers in all)


class GenerateError(InvalidInput):
    """Invalid arguments for `generate`."""


@dataclass
class Chunk:
    """One simulated chunk: the customers (with their hidden state), events and feedback."""

    people: People
    outcome: Outcome
    feedback: dict[str, np.ndarray]


def window(seed: int) -> tuple[int, int]:
    """(start epoch second, length in days) of the history; the end moves with the seed."""
    end = FIRST_END + (seed % 365) * DAY
    return end - WINDOW_DAYS * DAY, WINDOW_DAYS


def make_world(*, items: int, seed: int) -> World:
    start, days = window(seed)
    catalogue = make_catalogue(np.random.default_rng([seed, 0]), items, start, days)
    return build_world(catalogue, start=start, days=days)


def simulate_chunk(
    world: World, *, seed: int, index: int, n: int, events_per_customer: float
) -> Chunk:
    """Customers, events and feedback of chunk `index` (n customers); pure, no I/O."""
    rng = np.random.default_rng([seed, 1, index])
    people = draw_people(
        rng, n, start=world.start, days=world.days, category_share=world.category_share
    )
    outcome = finish(rng, world, people, simulate(rng, world, people, events_per_customer))
    ev = outcome.events
    kind = ev["type"]
    buy = kind == EVENT_TYPES.index("purchase")
    counts = np.bincount(ev["customer"][buy], minlength=n)
    feedback = draw_feedback(
        rng,
        people,
        start=world.start,
        days=world.days,
        purchases=counts,
        dismissals=np.bincount(ev["customer"][kind == EVENT_TYPES.index("dismiss")], minlength=n),
        impressions=np.bincount(
            ev["customer"][kind == EVENT_TYPES.index("impression")], minlength=n
        ),
        purchase_times=(np.concatenate([[0], np.cumsum(counts)]), ev["timestamp"][buy]),
    )
    return Chunk(people, outcome, feedback)


def generate(
    *,
    customers: int,
    items: int,
    seed: int,
    out: Path | str,
    events_per_customer: float = 50.0,
    fmt: str = "parquet",
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write the four tables to `out` as `<table>.<fmt>`; returns rows written per table.

    Files are written under temporary names and renamed only once all are complete, so a
    failed run leaves any previous data set in place.
    """
    _validate(customers=customers, items=items, seed=seed, epc=events_per_customer, fmt=fmt)
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    world = make_world(items=items, seed=seed)
    writers = {name: _Writer(root, name, fmt) for name in TABLES}
    ids = _Ids(customers, world.catalogue)
    try:
        writers["items"].write(_items_table(world.catalogue, ids))
        for index, first in enumerate(range(0, customers, CHUNK)):
            n = min(CHUNK, customers - first)
            chunk = simulate_chunk(
                world, seed=seed, index=index, n=n, events_per_customer=events_per_customer
            )
            customer_ids = ids.customers(first, n)
            writers["customers"].write(_customers_table(chunk, customer_ids))
            writers["events"].write(_events_table(chunk.outcome.events, customer_ids, ids))
            writers["feedback"].write(_feedback_table(chunk.feedback, customer_ids, ids))
            if progress is not None:
                progress(first + n, customers)
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    for writer in writers.values():
        writer.commit()
    return {name: writer.rows for name, writer in writers.items()}


def _validate(*, customers: int, items: int, seed: int, epc: float, fmt: str) -> None:
    if customers < 1:
        raise GenerateError(f"--customers must be a positive number, got {customers}")
    if items < 1:
        raise GenerateError(f"--items must be a positive number, got {items}")
    if seed < 0:
        raise GenerateError(f"--seed must be zero or positive, got {seed}")
    if not epc > 0:
        raise GenerateError(f"--events-per-customer must be positive, got {epc}")
    if fmt not in FORMATS:
        raise GenerateError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")


class _Ids:
    """Readable ids: C000042 customers, E000000001234 events, ORD0000000017 orders..."""

    def __init__(self, customers: int, catalogue: Catalogue) -> None:
        self.width = max(6, len(str(customers)))
        self.items = pa.array(catalogue.columns["item_id"], type=pa.string())
        self.next_event = 1
        self.next_order = 1
        self.next_response = 1

    def customers(self, first: int, n: int) -> pa.Array:
        return _numbered("C", np.arange(first + 1, first + n + 1), self.width)

    def take(self, attr: str, n: int, width: int, prefix: str) -> pa.Array:
        start = getattr(self, attr)
        setattr(self, attr, start + n)
        return _numbered(prefix, np.arange(start, start + n), width)


def _numbered(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    text = pc.utf8_lpad(pc.cast(pa.array(numbers, type=pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, text, "")


def _labels(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """Code -> label as an Arrow string column (no per-row Python or numpy unicode copy)."""
    return pa.array(list(names), type=pa.string()).take(pa.array(codes))


def _timestamps(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds -> UTC timestamps; negative seconds mean 'none'."""
    return pa.array(seconds * 1000, type=pa.timestamp("ms", tz="UTC"), mask=seconds < 0)


def _items_table(cat: Catalogue, ids: _Ids) -> pa.Table:
    cols = dict(cat.columns)
    cols["item_id"] = ids.items
    cols["active_from"] = _timestamps(cols["active_from"])
    cols["active_to"] = _timestamps(cols["active_to"])
    return _table("items", cols)


def _customers_table(chunk: Chunk, customer_ids: pa.Array) -> pa.Table:
    cols = dict(chunk.people.columns)
    cols["customer_id"] = customer_ids
    cols["created_at"] = _timestamps(cols["created_at"])
    by = cols["birth_year"]
    cols["birth_year"] = pa.array(by, type=pa.int64(), mask=by < 0)
    cols["loyalty_tier"] = _labels(LOYALTY_TIERS, chunk.outcome.tier)
    cols["points_balance"] = chunk.outcome.points
    return _table("customers", cols)


def _events_table(ev: dict[str, np.ndarray], customer_ids: pa.Array, ids: _Ids) -> pa.Table:
    n = len(ev["customer"])
    has_order = ev["order"] >= 0
    # order keys are session numbers: renumber them densely, continuing from earlier chunks
    keys, dense = np.unique(ev["order"][has_order], return_inverse=True)
    number = np.zeros(n, dtype=np.int64)
    number[has_order] = ids.next_order + dense
    ids.next_order += len(keys)
    orders = pc.if_else(pa.array(has_order), _numbered("ORD", number, 10), "")
    return _table(
        "events",
        {
            "event_id": ids.take("next_event", n, 12, "E"),
            "customer_id": customer_ids.take(pa.array(ev["customer"])),
            "item_id": ids.items.take(pa.array(ev["item"])),
            "type": _labels(EVENT_TYPES, ev["type"]),
            "channel": _labels(CHANNELS, ev["channel"]),
            "timestamp": _timestamps(ev["timestamp"]),
            "order_id": orders,
            "quantity": ev["quantity"],
            "value": ev["value"],
            "recommendation_id": pa.nulls(n, pa.string()).fill_null(""),
            "touchpoint": pa.nulls(n, pa.string()).fill_null(""),  # the journey map derives it
        },
    )


def _feedback_table(fb: dict[str, np.ndarray], customer_ids: pa.Array, ids: _Ids) -> pa.Table:
    n = len(fb["customer"])
    return _table(
        "feedback",
        {
            "response_id": ids.take("next_response", n, 10, "F"),
            "customer_id": customer_ids.take(pa.array(fb["customer"])),
            "survey": _labels(SURVEYS, fb["survey"]),
            "score": fb["score"],
            "comment": fb["comment"],
            "channel": _labels(CHANNELS, fb["channel"]),
            "touchpoint": _labels(TOUCHPOINTS.tolist(), fb["touchpoint"]),
            "timestamp": _timestamps(fb["timestamp"]),
        },
    )


def _table(name: str, cols: Mapping[str, object]) -> pa.Table:
    schema = arrow_schema(TABLES[name])
    return pa.table([pa.array(cols[f.name], type=f.type) for f in schema], schema=schema)


class _Writer:
    """Appends chunks to `<name>.<fmt>.tmp`; `commit` renames it into place."""

    def __init__(self, root: Path, name: str, fmt: str) -> None:
        self.path = root / f"{name}.{fmt}"
        self.other = root / f"{name}.{'csv' if fmt == 'parquet' else 'parquet'}"
        self.tmp = root / f".{name}.{fmt}.tmp"
        self.rows = 0
        schema = arrow_schema(TABLES[name])
        self.csv = fmt == "csv"
        if self.csv:
            text = [
                pa.field(f.name, pa.string()) if pa.types.is_timestamp(f.type) else f
                for f in schema
            ]
            self.schema = pa.schema(text)
            self.writer: pq.ParquetWriter | pacsv.CSVWriter = pacsv.CSVWriter(self.tmp, self.schema)
        else:
            self.schema = schema
            self.writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if self.csv:  # ISO 8601 text, second precision, as people write it by hand
            for i, field in enumerate(table.schema):
                if pa.types.is_timestamp(field.type):
                    seconds = table.column(i).cast(pa.timestamp("s", tz="UTC"))
                    text = pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ")
                    table = table.set_column(i, field.name, text)
            table = table.cast(self.schema)
        self.writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> None:
        self.writer.close()
        os.replace(self.tmp, self.path)
        self.other.unlink(missing_ok=True)  # the loader refuses a table in both formats

    def abort(self) -> None:
        self.writer.close()
        self.tmp.unlink(missing_ok=True)
