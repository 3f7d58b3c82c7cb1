"""The batch pipeline behind `touchpoint run`: segment → train → publish."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

log = logging.getLogger("touchpoint.run")


def run_pipeline(
    data: Path,
    tables: dict[str, pd.DataFrame],
    *,
    as_of: str | None,
    budget_seconds: float,
) -> dict[str, Any]:
    raise NotImplementedError("wired once segmentation and training land")
