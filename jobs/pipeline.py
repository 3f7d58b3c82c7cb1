"""The batch pipeline behind `touchpoint run`: segment → train → publish.

Each step is the same function its own command runs; this module only orders them and
decides what a failure means: a rejected model leaves the live serving version in place.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import pandas as pd

from jobs.common import progress
from jobs.modelops import run_train
from jobs.publish import Trained, build_bundle, publish_serving
from jobs.segmentation import run_segmentation
from recsys.errors import ModelRejected
from store.client import connect
from store.config import StoreConfig

log = logging.getLogger("touchpoint.run")


class PipelineError(RuntimeError):
    """A step refused to go on; the previously published versions keep serving."""


def run_pipeline(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    as_of: str | None,
    budget_seconds: float,
    rules_file: Path | None = None,
) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    with progress() as bar:
        task = bar.add_task("segment", total=3)
        config = StoreConfig(data_dir=data)
        segmented, seg_summary = run_segmentation(
            tables=tables, as_of=as_of, rules_file=rules_file, config=config
        )
        summary["segmented customers"] = seg_summary["customers"]
        summary["segments version"] = seg_summary["version"]
        summary["segment seconds"] = round(
            seg_summary["segment_seconds"] + seg_summary["publish_seconds"], 1
        )
        bar.update(task, advance=1, description="train")

        t1 = time.monotonic()
        try:
            result = run_train(data, tables, budget_seconds=budget_seconds)
        except ModelRejected as exc:
            raise PipelineError(f"model rejected, previous version stays live: {exc}") from exc
        summary["model"] = f"{result.name} ({result.version})"
        summary["train seconds"] = round(time.monotonic() - t1, 1)
        bar.update(task, advance=1, description="publish")

        t2 = time.monotonic()
        trained = Trained(result.model, result.interactions, result.name, result.version)
        bundle = build_bundle(tables=tables, trained=trained, segments=segmented.table)
        with connect(config) as client:
            version = publish_serving(
                client,
                config,
                bundle,
                meta={"model": result.name, "model_version": result.version},
            )
        summary["serving version"] = version
        summary["publish seconds"] = round(time.monotonic() - t2, 1)
        bar.update(task, advance=1, description="done")
    return summary
