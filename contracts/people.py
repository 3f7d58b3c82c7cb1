"""Who is who and what they allow, as the batch reads it from the data directory.

`touchpoint ingest` drains the API's identity merges to `DATA/identities/` and consent
changes to `DATA/consent/` (`contracts.schema.IDENTITIES`, `CONSENT`). Every batch loader
(`contracts.tables.load_table`) then:
1. maps each merged visitor id to its customer id in events and feedback, so segmentation,
   training and insights count the two ids as one person;
2. drops the events (and, for analytics, the feedback) of customers whose latest consent
   withdrew the purpose the caller loads for: `personalisation` (segmentation, training, the
   interaction matrix, batch recommendations) or `analytics` (insights). A purpose a customer
   never set live counts as given (the API's default, `api.services.consent.DEFAULTS`).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from contracts.errors import DataError
from contracts.schema import CONSENT, CONSENT_PURPOSES, IDENTITIES, Table

PERSONALISATION, ANALYTICS = "personalisation", "analytics"
PURPOSES = (PERSONALISATION, ANALYTICS)  # what a batch loads for (`load_table(purpose=)`)
DROPPED = {PERSONALISATION: ("events",), ANALYTICS: ("events", "feedback")}


def _read(data_dir: Path | str, table: Table) -> pa.Table | None:
    """An ingest-written table's partitions (`DATA/<name>/*.parquet`) as one Arrow table."""
    files = sorted((Path(data_dir) / table.name).glob("*.parquet"))
    if not files:
        return None
    try:
        return pa.concat_tables([pq.read_table(f, columns=list(table.names)) for f in files])
    except (pa.ArrowException, OSError, KeyError) as exc:
        raise DataError(str(files[0].parent), None, None, f"unreadable partition: {exc}") from exc


def identity_map(data_dir: Path | str) -> dict[str, str]:
    """Merged visitor id -> customer id (the latest merge of a visitor wins)."""
    found = _read(data_dir, IDENTITIES)
    if found is None or found.num_rows == 0:
        return {}
    frame = found.to_pandas().sort_values("merged_at", kind="stable")
    return dict(
        zip(frame["anonymous_id"].astype(str), frame["customer_id"].astype(str), strict=True)
    )


def withdrawn(data_dir: Path | str, purpose: str, ids: dict[str, str] | None = None) -> set[str]:
    """Customers whose latest live change of `purpose` set it to false (visitor ids mapped
    through `ids`, the identity map)."""
    if purpose not in CONSENT_PURPOSES:
        raise ValueError(f"unknown consent purpose {purpose!r}")
    found = _read(data_dir, CONSENT)
    if found is None or found.num_rows == 0:
        return set()
    frame = found.select(["customer_id", "changed_at", purpose]).to_pandas()
    frame = frame[frame[purpose].astype(str) != ""]  # a change that left this purpose alone
    if ids:
        frame["customer_id"] = frame["customer_id"].astype(str).replace(ids)
    latest = frame.sort_values("changed_at", kind="stable").groupby("customer_id").last()
    return set(latest.index[latest[purpose].astype(str) == "false"].astype(str))


def apply_people(
    frame: pd.DataFrame, data_dir: Path | str, name: str, purpose: str
) -> pd.DataFrame:
    """`frame` (the loaded `events` or `feedback` table) with merged visitor ids mapped and
    the rows of customers who withdrew `purpose` dropped (see the module)."""
    if purpose not in PURPOSES:
        raise ValueError(f"unknown batch purpose {purpose!r}; one of {', '.join(PURPOSES)}")
    ids = identity_map(data_dir)
    if ids and len(frame):
        mapped = frame["customer_id"].map(ids)
        frame = frame.assign(
            customer_id=mapped.fillna(frame["customer_id"]).astype(frame["customer_id"].dtype)
        )
    if name in DROPPED[purpose] and len(frame):
        out = withdrawn(data_dir, purpose, ids)
        if out:
            frame = frame[~frame["customer_id"].isin(out)].reset_index(drop=True)
    return frame


def purposes_differ(data_dir: Path | str) -> bool:
    """Whether tables loaded for personalisation and for analytics can differ (someone
    withdrew either): a pipeline that loaded for one reloads for the other only then."""
    ids = identity_map(data_dir)
    return any(withdrawn(data_dir, purpose, ids) for purpose in PURPOSES)
