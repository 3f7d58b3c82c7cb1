"""Model registry: versions as files, atomic active pointer, rollback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from recsys.errors import RegistryError
from recsys.features import FeatureEncoder
from recsys.matrix import IdMap, Interactions
from recsys.models import create_model
from recsys.registry import ModelBundle, Registry, fingerprint
from tests.recsys.factories import planted, planted_features


def bundle() -> tuple[ModelBundle, Interactions]:
    x, ug, ig = planted()
    customers, items = planted_features(ug, ig)
    inter = Interactions(
        x, IdMap(customers["customer_id"], kind="customer"), IdMap(items["item_id"], kind="item")
    )
    model = create_model("ease", lambda_=10.0).fit(x)
    enc = FeatureEncoder("item_id").fit(items)
    return ModelBundle(model, inter.customers, inter.items, item_encoder=enc), inter


def test_save_list_show_load_round_trip(tmp_path: Path) -> None:
    reg = Registry(tmp_path / "models")
    b, inter = bundle()
    fp = fingerprint(inter)
    v = reg.save(b, metrics={"ndcg": 0.5}, data_fingerprint=fp, training_seconds=1.5)
    files = sorted(p.name for p in (tmp_path / "models" / "versions" / v).iterdir())
    assert files == ["ids.npz", "model.json", "model.npz"]
    info = reg.show(v)
    assert info["model"] == "ease"
    assert info["metrics"] == {"ndcg": 0.5}
    assert info["data_fingerprint"] == fp
    assert info["params"]["lambda_"] == 10.0
    assert info["active"] is False
    assert [i["version"] for i in reg.list()] == [v]
    with pytest.raises(RegistryError, match="no active model"):
        reg.load()
    reg.activate(v)
    loaded = reg.load()
    assert loaded.customers == b.customers
    assert loaded.items == b.items
    assert loaded.item_encoder is not None
    assert loaded.item_encoder.vocabulary == b.item_encoder.vocabulary  # type: ignore[union-attr]
    x = inter.matrix
    np.testing.assert_array_equal(loaded.model.score(x), b.model.score(x))


def test_activate_and_rollback_move_the_pointer(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    b, _ = bundle()
    v1 = reg.save(b, activate=True)
    v2 = reg.save(b, activate=True)
    assert v1 != v2
    assert reg.versions() == sorted([v1, v2])
    assert reg.active() == v2
    assert reg.rollback() == v1
    assert reg.active() == v1
    with pytest.raises(RegistryError, match="nothing to roll back"):
        reg.rollback()
    reg.activate(v2)
    assert json.loads((tmp_path / "active.json").read_text()) == {
        "version": v2,
        "previous": [v1],
    }
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_unknown_versions_are_refused(tmp_path: Path) -> None:
    reg = Registry(tmp_path)
    with pytest.raises(RegistryError, match="unknown model version 'nope'"):
        reg.activate("nope")
    with pytest.raises(RegistryError, match="unknown model version"):
        reg.show("../../etc")


def test_fingerprint_changes_with_the_data() -> None:
    _, inter = bundle()
    same = Interactions(inter.matrix.copy(), inter.customers, inter.items)
    assert fingerprint(same) == fingerprint(inter)
    changed = inter.matrix.copy()
    changed.data[0] += 1
    assert fingerprint(Interactions(changed, inter.customers, inter.items)) != fingerprint(inter)
