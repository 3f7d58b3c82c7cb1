"""Model registry: every trained model is a version directory of plain files.

    ROOT/versions/<version>/model.npz   arrays (loaded with allow_pickle=False)
    ROOT/versions/<version>/model.json  model name, parameters, metrics, data fingerprint,
                                        training time, id-map sizes, feature encoders
    ROOT/versions/<version>/ids.npz     customer and item ids (row/column order)
    ROOT/active.json                    {"version": ..., "previous": [...]}

A version directory is written under a temporary name and renamed into place, and the
active pointer is written to a temp file then `os.replace`d, so a reader never sees half a
model or half a pointer. `rollback` re-activates the previously active version.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from recsys.errors import ModelFileError, RegistryError
from recsys.features import FeatureEncoder
from recsys.matrix import IdMap, Interactions
from recsys.models.base import META_FILE, Recommender

IDS_FILE = "ids.npz"
ACTIVE_FILE = "active.json"


@dataclass
class ModelBundle:
    """What serving and batch scoring need: the model, its id maps and feature encoders."""

    model: Recommender
    customers: IdMap
    items: IdMap
    customer_encoder: FeatureEncoder | None = None
    item_encoder: FeatureEncoder | None = None
    info: dict[str, Any] = field(default_factory=dict)


def fingerprint(interactions: Interactions) -> str:
    """Content hash of the training matrix and its ids (same data -> same fingerprint)."""
    h = hashlib.sha256()
    m = interactions.matrix
    for arr in (m.indptr, m.indices, m.data):
        h.update(np.ascontiguousarray(arr).tobytes())
    for ids in (interactions.customers.to_array(), interactions.items.to_array()):
        h.update("\x1f".join(ids.tolist()).encode())
    return h.hexdigest()[:16]


def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


class Registry:
    """Versions of trained models under one root directory (the job uses `DATA/models`)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    def save(
        self,
        bundle: ModelBundle,
        *,
        metrics: dict[str, Any] | None = None,
        data_fingerprint: str = "",
        training_seconds: float = 0.0,
        extra: dict[str, Any] | None = None,
        activate: bool = False,
    ) -> str:
        """Store `bundle` as a new version and return its id (optionally make it active)."""
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        now = datetime.now(UTC)
        version = base = now.strftime("%Y%m%dT%H%M%S%f")[:-3] + "Z"  # sortable, ms
        n = 0
        while (self.versions_dir / version).exists():
            n += 1
            version = f"{base}-{n}"
        staging = Path(tempfile.mkdtemp(dir=self.versions_dir, prefix=".staging-"))
        try:
            bundle.model.save(staging)
            np.savez(
                staging / IDS_FILE,
                customers=bundle.customers.to_array(),
                items=bundle.items.to_array(),
            )
            meta = json.loads((staging / META_FILE).read_text())
            meta.update(
                version=version,
                created_at=now.isoformat(),
                metrics=metrics or {},
                data_fingerprint=data_fingerprint,
                training_seconds=round(training_seconds, 3),
                n_customers=len(bundle.customers),
                n_items_catalogue=len(bundle.items),
                customer_encoder=bundle.customer_encoder and bundle.customer_encoder.to_json(),
                item_encoder=bundle.item_encoder and bundle.item_encoder.to_json(),
                **(extra or {}),
            )
            _write_json_atomic(staging / META_FILE, meta)
            os.replace(staging, self.versions_dir / version)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        if activate:
            self.activate(version)
        return version

    def versions(self) -> list[str]:
        if not self.versions_dir.exists():
            return []
        return sorted(
            p.name
            for p in self.versions_dir.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / META_FILE).exists()
        )

    def show(self, version: str) -> dict[str, Any]:
        """The version's model.json (without the bulky model state)."""
        path = self._dir(version) / META_FILE
        try:
            meta: dict[str, Any] = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise ModelFileError(f"cannot read {path}: {exc}") from exc
        meta.pop("state", None)
        meta["active"] = version == self.active()
        return meta

    def list(self) -> list[dict[str, Any]]:
        return [self.show(v) for v in self.versions()]

    def _pointer(self) -> dict[str, Any]:
        path = self.root / ACTIVE_FILE
        if not path.exists():
            return {"version": None, "previous": []}
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except ValueError as exc:
            raise RegistryError(f"corrupt active pointer {path}: {exc}") from exc
        return data

    def active(self) -> str | None:
        version = self._pointer().get("version")
        return str(version) if version else None

    def activate(self, version: str) -> None:
        """Make `version` the live model; the one it replaces is remembered for rollback."""
        self._dir(version)
        pointer = self._pointer()
        current = pointer.get("version")
        if current == version:
            return
        previous = [*list(pointer.get("previous", [])), current] if current else []
        _write_json_atomic(self.root / ACTIVE_FILE, {"version": version, "previous": previous})

    def rollback(self) -> str:
        """Re-activate the previously active version and return it."""
        pointer = self._pointer()
        previous = [v for v in pointer.get("previous", []) if (self.versions_dir / v).is_dir()]
        if not previous:
            raise RegistryError("nothing to roll back to: no previously active version")
        target = previous.pop()
        _write_json_atomic(self.root / ACTIVE_FILE, {"version": target, "previous": previous})
        return str(target)

    def load(self, version: str | None = None) -> ModelBundle:
        """The bundle of `version`, or of the active version when None."""
        version = version or self.active()
        if version is None:
            raise RegistryError(f"no active model in {self.root}: run `touchpoint train` first")
        path = self._dir(version)
        model = Recommender.load(path)
        meta = json.loads((path / META_FILE).read_text())
        try:
            with np.load(path / IDS_FILE, allow_pickle=False) as ids:
                customers = IdMap.from_array(ids["customers"], kind="customer")
                items = IdMap.from_array(ids["items"], kind="item")
        except (OSError, ValueError, KeyError) as exc:
            raise ModelFileError(f"cannot read ids of version {version}: {exc}") from exc
        cenc, ienc = meta.get("customer_encoder"), meta.get("item_encoder")
        meta.pop("state", None)
        return ModelBundle(
            model=model,
            customers=customers,
            items=items,
            customer_encoder=FeatureEncoder.from_json(cenc) if cenc else None,
            item_encoder=FeatureEncoder.from_json(ienc) if ienc else None,
            info=meta,
        )

    def _dir(self, version: str) -> Path:
        path = self.versions_dir / version
        if "/" in version or version.startswith(".") or not (path / META_FILE).exists():
            known = ", ".join(self.versions()[-5:]) or "none"
            raise RegistryError(f"unknown model version {version!r} (latest: {known})")
        return path
