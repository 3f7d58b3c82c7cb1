"""Fetch and cache public benchmark data (see shared DATA.md): never committed, never pickled.

MovieLens-100K comes from the `recbole==1.2.1` wheel, downloaded with pip (no deps, no
install) into `bench/.cache/` (gitignored) and read from the extracted `.inter` file.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd

CACHE = Path(__file__).resolve().parent / ".cache"
RECBOLE = "recbole==1.2.1"
ML100K = "recbole/dataset_example/ml-100k/ml-100k.inter"


def _wheel(spec: str, pattern: str) -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(pattern))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "-q", "-d", str(CACHE), spec],
            check=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(pattern))
    if not found:
        raise FileNotFoundError(f"pip download of {spec} produced no wheel in {CACHE}")
    return found[-1]


def movielens_100k() -> pd.DataFrame:
    """ML-100K ratings as columns user_id, item_id, rating, timestamp (100,000 rows)."""
    target = CACHE / ML100K
    if not target.exists():
        with zipfile.ZipFile(_wheel(RECBOLE, "recbole-1.2.1-*.whl")) as zf:
            zf.extract(ML100K, CACHE)
    df = pd.read_csv(target, sep="\t")
    df.columns = [c.split(":")[0] for c in df.columns]
    return df.astype({"user_id": str, "item_id": str})
