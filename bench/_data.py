"""Fetch and cache public benchmark data (see shared DATA.md): never committed, never pickled.

MovieLens-100K comes from the `recbole==1.2.1` wheel and CDNOW from the `lifetimes==0.11.3`
wheel, downloaded with pip (no deps, no install) into `bench/.cache/` (gitignored;
`TOUCHPOINT_DATA_CACHE` puts it elsewhere); the data files are extracted there. The Amazon
review snippets with human sentiment ratings (Hutto & Gilbert 2014, MIT) come from the
`vaderSentiment==3.3.2` source distribution (a tar inside the tar).
`python -m bench._data` (what `make data` runs) fetches them once; tests only read them.

`write_movielens_100k(root)` turns the set into Touchpoint contract files (what a user of
the product would give it) with a per-user random 75/25 split; the held-out quarter is
written beside the data directory, never inside it, so the product cannot see it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

CACHE = Path(os.environ.get("TOUCHPOINT_DATA_CACHE") or Path(__file__).resolve().parent / ".cache")
RECBOLE = "recbole==1.2.1"
ML100K_DIR = "recbole/dataset_example/ml-100k"
ML100K_FILES = tuple(f"{ML100K_DIR}/ml-100k.{ext}" for ext in ("inter", "item", "user"))
LIFETIMES = "lifetimes==0.11.3"
CDNOW = "lifetimes/datasets/CDNOW_master.txt"
TEST_FRACTION = 0.25
VADER = "vaderSentiment==3.3.2"
VADER_INNER = "vaderSentiment-3.3.2/additional_resources/hutto_ICWSM_2014.tar.gz"
SNIPPETS_DIR = "hutto_ICWSM_2014"
SNIPPET_SETS = ("amazonReviewSnippets", "movieReviewSnippets")


class MissingDataError(FileNotFoundError):
    """A cached data set is absent and fetching it was not allowed (or failed)."""


def _wheel(spec: str, pattern: str) -> Path:
    return _pip_download(spec, pattern, "--only-binary=:all:", "wheel")


def _pip_download(spec: str, pattern: str, kind: str, what: str) -> Path:
    """The newest file in CACHE matching `pattern`, downloaded by pip (`kind`: wheel or
    source only) when there is none yet."""
    CACHE.mkdir(parents=True, exist_ok=True)
    found = sorted(CACHE.glob(pattern))
    if not found:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", kind, "-q", "-d", str(CACHE),
             spec],
            check=True,
        )  # fmt: skip
        found = sorted(CACHE.glob(pattern))
    if not found:
        raise MissingDataError(f"pip download of {spec} produced no {what} in {CACHE}")
    return found[-1]


def fetch_movielens_100k(*, download: bool = True) -> dict[str, Path]:
    """Paths of the cached ML-100K files by extension (`inter`, `item`, `user`).

    With `download=False` a missing file raises `MissingDataError` naming `make data`
    instead of reaching the package index (what tests do: they never fetch, never skip).
    """
    paths = {name.rsplit(".", 1)[1]: CACHE / name for name in ML100K_FILES}
    missing = [name for name in ML100K_FILES if not (CACHE / name).is_file()]
    if missing and not download:
        raise MissingDataError(
            f"MovieLens-100K is not in {CACHE} (missing {', '.join(missing)}); "
            "run `make data` (it downloads the recbole==1.2.1 wheel once, no install)"
        )
    if missing:
        with zipfile.ZipFile(_wheel(RECBOLE, "recbole-1.2.1-*.whl")) as zf:
            for name in missing:
                zf.extract(name, CACHE)
    return paths


def fetch_cdnow(*, download: bool = True) -> Path:
    """Path of the cached CDNOW purchase log (whitespace-separated: customer id, YYYYMMDD
    date, number of CDs, dollar value). `download=False` raises `MissingDataError` naming
    `make data` when it is absent."""
    path = CACHE / CDNOW
    if not path.is_file():
        if not download:
            raise MissingDataError(
                f"CDNOW is not in {CACHE} (missing {CDNOW}); "
                f"run `make data` (it downloads the {LIFETIMES} wheel once, no install)"
            )
        with zipfile.ZipFile(_wheel(LIFETIMES, "[Ll]ifetimes-0.11.3-*.whl")) as zf:
            zf.extract(CDNOW, CACHE)
    return path


def _sdist(spec: str, pattern: str) -> Path:
    return _pip_download(spec, pattern, "--no-binary=:all:", "source archive")


def fetch_review_snippets(name: str = "amazonReviewSnippets", *, download: bool = True) -> Path:
    """Path of the cached `<name>_GroundTruth.txt` (tab-separated id, mean rating −4..4,
    sentence; no header: read with `quoting=3`). `download=False` raises `MissingDataError`
    naming `make data` when it is absent."""
    if name not in SNIPPET_SETS:
        raise ValueError(f"unknown snippet set {name!r}; known: {', '.join(SNIPPET_SETS)}")
    path = CACHE / SNIPPETS_DIR / f"{name}_GroundTruth.txt"
    if path.is_file():
        return path
    if not download:
        raise MissingDataError(
            f"review snippets are not in {CACHE} (missing {path.name}); "
            f"run `make data` (it downloads the {VADER} source archive once, no install)"
        )
    with tarfile.open(_sdist(VADER, "vaderSentiment-3.3.2.tar.gz")) as outer:
        inner = outer.extractfile(VADER_INNER)
        if inner is None:
            raise MissingDataError(f"{VADER_INNER} is not in the {VADER} source archive")
        with tarfile.open(fileobj=inner) as snippets:
            for member in SNIPPET_SETS:
                wanted = f"{SNIPPETS_DIR}/{member}_GroundTruth.txt"
                snippets.extract(wanted, CACHE, filter="data")
    return path


def read_review_snippets(
    name: str = "amazonReviewSnippets", *, download: bool = True
) -> pd.DataFrame:
    """The snippets as a frame: id, review (the id before `_`), rating (−4..4), text."""
    frame = pd.read_csv(
        fetch_review_snippets(name, download=download), sep="\t", header=None, quoting=3,
        names=["id", "rating", "text"], dtype={"id": str, "text": str}, keep_default_na=False,
    )  # fmt: skip
    frame.insert(1, "review", frame["id"].str.split("_").str[0])
    return frame


def _read_atomic(path: Path) -> pd.DataFrame:
    """A RecBole atomic file: tab-separated, header `name:type`; everything read as text."""
    df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, quoting=3)
    df.columns = [c.split(":")[0] for c in df.columns]
    return df


@dataclass(frozen=True)
class ContractSet:
    """A data set written as Touchpoint contract files plus its held-out pairs."""

    data_dir: Path  # events.csv, customers.csv, items.csv: all the product may see
    heldout: Path  # customer_id,item_id: the held-out quarter (outside data_dir)
    customers: Path  # one customer id per line: every customer with a held-out item
    n_train: int
    n_heldout: int


def per_user_split(users: np.ndarray, *, seed: int = 42) -> np.ndarray:
    """Boolean mask of held-out rows: for each user (in sorted id order) round(0.25 * n)
    of their n rows drawn at random with `np.random.default_rng(seed)`; users with fewer
    than 2 rows keep all in training."""
    rng = np.random.default_rng(seed)
    held = np.zeros(len(users), dtype=bool)
    codes, uniques = pd.factorize(pd.Series(users), sort=True)
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(len(uniques) + 1))
    for u in range(len(uniques)):
        rows = order[bounds[u] : bounds[u + 1]]
        n = len(rows)
        n_test = round(TEST_FRACTION * n) if n >= 2 else 0
        if n_test:
            held[rng.choice(rows, size=n_test, replace=False)] = True
    return held


def write_movielens_100k(root: Path, *, seed: int = 42, download: bool = True) -> ContractSet:
    """Write ML-100K as contract files: `root/data/{events,customers,items}.csv`,
    `root/heldout.csv` and `root/customers.txt` (see `ContractSet`)."""
    paths = fetch_movielens_100k(download=download)
    ratings = _read_atomic(paths["inter"])
    root = Path(root)
    data_dir = root / "data"
    data_dir.mkdir(parents=True, exist_ok=True)

    user_sort = ratings["user_id"].astype(int).to_numpy()  # numeric order of the ids
    held = per_user_split(user_sort, seed=seed)
    train, test = ratings[~held], ratings[held]

    stamps = pd.to_datetime(train["timestamp"].astype(np.int64), unit="s", utc=True)
    events = pd.DataFrame(
        {
            "event_id": "ml-" + train["user_id"] + "-" + train["item_id"],
            "customer_id": train["user_id"],
            "item_id": train["item_id"],
            "type": "rate",
            "timestamp": stamps.dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "value": train["rating"],
            "channel": "web",
        }
    )
    events.to_csv(data_dir / "events.csv", index=False)

    users = _read_atomic(paths["user"])
    customers = pd.DataFrame({"customer_id": users["user_id"], "gender": users["gender"]})
    for extra in ("age", "occupation", "zip_code"):  # unknown columns are kept as attributes
        customers[extra] = users[extra]
    known = set(customers["customer_id"])
    more = sorted(set(ratings["user_id"]) - known, key=int)
    if more:
        customers = pd.concat([customers, pd.DataFrame({"customer_id": more})])
    customers.to_csv(data_dir / "customers.csv", index=False)

    movies = _read_atomic(paths["item"])
    year = movies["release_year"]
    items = pd.DataFrame(
        {
            "item_id": movies["item_id"],
            "kind": "product",
            "title": movies["movie_title"] + np.where(year != "", " (" + year + ")", ""),
            "category": "",
            "tags": movies["class"].str.split().str.join(";"),
            "in_stock": "true",
        }
    )
    more = sorted(set(ratings["item_id"]) - set(items["item_id"]), key=int)
    if more:
        items = pd.concat([items, pd.DataFrame({"item_id": more, "kind": "product"})])
    items.to_csv(data_dir / "items.csv", index=False)

    heldout = root / "heldout.csv"
    test[["user_id", "item_id"]].set_axis(["customer_id", "item_id"], axis=1).to_csv(
        heldout, index=False
    )
    listed = root / "customers.txt"
    ids = sorted(set(test["user_id"]), key=int)
    listed.write_text("".join(f"{c}\n" for c in ids), encoding="utf-8")
    return ContractSet(data_dir, heldout, listed, n_train=len(train), n_heldout=len(test))


def main() -> int:
    paths = fetch_movielens_100k()
    for ext, path in paths.items():
        print(f"MovieLens-100K .{ext}: {path}")
    print(f"CDNOW: {fetch_cdnow()}")
    for name in SNIPPET_SETS:
        print(f"{name} (vaderSentiment 3.3.2 sdist): {fetch_review_snippets(name)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
