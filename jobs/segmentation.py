"""The segment job: load → `build_segments` → write the per-customer table → publish.

Thin on purpose: the algorithms live in `segments/`, the Redis layout in `store.segments`.
Deltas are computed against the live version's member lists just before publishing, so
each version records who entered and who left every segment since the one it replaces.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from contracts.errors import InvalidInput
from segments.build import SegmentBuild, build_segments, segment_deltas
from segments.definitions import RuleSegment, load_rules
from store.client import connect
from store.config import StoreConfig
from store.segments import SegmentRelease, publish_segments, read_live_members

OUTPUT_FORMATS = (".parquet", ".csv")
Step = Callable[[str], None]
Engine = Callable[[str | None, list[RuleSegment] | None], SegmentBuild]  # (as_of, rules)


def run_segmentation(
    *,
    tables: dict[str, pd.DataFrame],
    as_of: str | None = None,
    rules_file: Path | None = None,
    output: Path | None = None,
    config: StoreConfig | None = None,
    publish: bool = True,
    step: Step = lambda _name: None,
    engine: Engine | None = None,
) -> tuple[SegmentBuild, dict[str, Any]]:
    """Run the whole job; returns the build and a summary (counts, version, seconds).
    `engine` builds the segments instead of the pandas engine (`--engine spark`)."""
    if output is not None and output.suffix.lower() not in OUTPUT_FORMATS:
        raise InvalidInput(f"--output {output}: use a .parquet or .csv file name")
    rules = load_rules(rules_file) if rules_file is not None else None
    summary: dict[str, Any] = {}
    started = time.monotonic()
    step("segment")
    if engine is not None:
        build = engine(as_of, rules)
    else:
        build = build_segments(
            customers=tables["customers"], events=tables["events"], items=tables.get("items"),
            feedback=tables.get("feedback"), as_of=as_of, rules=rules,
        )  # fmt: skip
    summary.update(customers=len(build.table), segments=len(build.catalogue),
                   as_of=build.as_of.isoformat(), clusters=build.clusters.k,
                   segment_seconds=round(time.monotonic() - started, 2))  # fmt: skip
    if output is not None:
        step("write")
        t0 = time.monotonic()
        write_table(build.table, output)
        summary.update(output=str(output), write_seconds=round(time.monotonic() - t0, 2))
    if publish:
        step("publish")
        t0 = time.monotonic()
        version, previous, changed = publish_build(build, config or StoreConfig())
        summary.update(version=version, previous_version=previous or "-",
                       customers_changed_segments=changed,
                       publish_seconds=round(time.monotonic() - t0, 2))  # fmt: skip
    return build, summary


def write_table(table: pd.DataFrame, output: Path) -> None:
    """Parquet or CSV by extension; written to a temporary name, then renamed into place."""
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.tmp")
    if output.suffix.lower() == ".parquet":
        table.to_parquet(partial, index=False)
    else:
        table.to_csv(partial, index=False)
    partial.replace(output)


def publish_build(build: SegmentBuild, config: StoreConfig) -> tuple[str, str | None, int]:
    """Publish memberships as a new version with deltas vs the live one; returns (version,
    previous version, number of distinct customers who entered or left any segment)."""
    with connect(config) as client:
        previous, before = read_live_members(client, config)
        current = {name: ids.tolist() for name, ids in build.members.items()}
        deltas = segment_deltas(before, current) if previous else {}
        moved = [d.entered for d in deltas.values()] + [d.exited for d in deltas.values()]
        changed = len(np.unique(np.concatenate(moved))) if moved else 0
        catalogue = build.catalogue.to_dict(orient="records")
        ids = build.table["customer_id"].to_numpy(dtype=object)
        names = build.table["segments"].to_numpy(dtype=object, na_value="")
        release = SegmentRelease(
            catalogue=[
                {str(k): (int(v) if k == "size" else str(v)) for k, v in row.items()}
                for row in catalogue
            ],
            members=current,
            customer_segments=zip(ids, names, strict=True),
            deltas={n: (d.entered.tolist(), d.exited.tolist()) for n, d in deltas.items()},
            previous=previous,
            meta={
                "as_of": build.as_of.isoformat(),
                "customers": len(build.table),
                "clusters": build.clusters.k,
            },
        )
        return publish_segments(client, config, release), previous, changed
