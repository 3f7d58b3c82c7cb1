"""Builders for the personalisation tests: a small catalogue of every kind, published for real."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.serving import ServingBundle, write_serving
from store.versions import Versions


def item(item_id: str, kind: str = "product", **fields: Any) -> dict[str, Any]:
    base = {
        "item_id": item_id, "kind": kind, "title": f"Title {item_id}", "category": "Misc",
        "price": 10.0, "margin": 1.0, "tags": [], "channels": [], "active_from": None,
        "active_to": None, "in_stock": True, "target_segments": [], "min_tier": "none",
        "points_cost": 0, "budget": -1,
    }  # fmt: skip
    base.update(fields)
    return base


def catalogue() -> list[dict[str, Any]]:
    """p0-p9 Electronics, p10-p19 Home (p3 out of stock, p5 Champions only); content,
    offers o0-o4 (o3 new: no history; o4 budget 1) and rewards w0-w4."""
    items = [item(f"p{i}", category="Electronics" if i < 10 else "Home") for i in range(20)]
    items[3]["in_stock"] = False
    items[5]["target_segments"] = ["Champions"]
    items += [item(f"n{i}", "content", category="Guides") for i in range(5)]
    margins = [5.0, 20.0, 10.0, 50.0, 8.0]
    items += [
        item(f"o{i}", "offer", category="Deals" if i < 3 else "Travel", margin=m)
        for i, m in enumerate(margins)
    ]
    items[-1]["budget"] = 1
    costs = [100, 200, 500, 1000, 5000]
    items += [
        item(f"w{i}", "reward", category="Rewards", points_cost=c) for i, c in enumerate(costs)
    ]
    items[-3]["min_tier"] = "gold"  # w2
    return items


def ranked(indices: list[int], scores: list[float] | None = None):
    sc = scores if scores is not None else list(np.linspace(1.0, 0.5, len(indices)))
    return np.array(indices, np.uint32), np.array(sc, np.float32)


def bundle(items: list[dict[str, Any]], **overrides: Any) -> ServingBundle:
    pos = {it["item_id"]: i for i, it in enumerate(items)}
    by_kind: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        by_kind.setdefault(it["kind"], []).append(i)
    popular = {
        "global": ranked(list(range(len(items)))[::-1]),
        "kind:offer": ranked([pos["o0"], pos["o1"], pos["o2"], pos["o4"]], [1, 1, 1, 1]),
        "kind:reward": ranked(by_kind["reward"]),
        "kind:content": ranked(by_kind["content"]),
        "kind:product": ranked(by_kind["product"][::-1]),
        "segment:Champions": ranked([pos["p12"], pos["p13"], pos["n3"]]),
        "segment:New": ranked([pos["p15"], pos["p16"]]),
    }
    profiles = [
        ("c1", {"customer_id": "c1", "loyalty_tier": "silver", "points_balance": 600,
                "consent": {"email": True, "push": False, "sms": False},
                "rfm_segment": "Champions", "feedback": {"nps": 9, "csat": 4}}),
        ("c2", {"customer_id": "c2", "loyalty_tier": "gold", "points_balance": 50,
                "consent": {"email": False}, "rfm_segment": "At Risk", "feedback": {}}),
        ("c3", {"customer_id": "c3", "lifecycle_stage": "New", "feedback": {}}),
    ]  # fmt: skip
    kwargs: dict[str, Any] = {
        "items": items,
        "popular": popular,
        "customer_recs": [("c1", ranked([pos[f"p{i}"] for i in (1, 2, 3, 4, 5, 6, 7)]))],
        "customer_profiles": profiles,
        "customer_history": [("c1", ranked([pos["p0"], pos["p8"]], [3.0, 1.0]))],
        "model": {"name": "als", "fold_in": True, "regularization": 0.01},
    }
    kwargs.update(overrides)
    return ServingBundle(**kwargs)


def publish(redis_client, store_config, b: ServingBundle) -> str:
    return Versions(redis_client, store_config).publish("serving", lambda r: write_serving(r, b))


@pytest.fixture
def rules_dir(tmp_path, monkeypatch):
    directory = tmp_path / "rules"
    directory.mkdir()
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(directory))
    return directory


def make_client(store_config, **settings: Any) -> Iterator[TestClient]:
    config = ApiSettings(
        data_dir=store_config.data_dir, redis_url=store_config.redis_url, **settings
    )
    with TestClient(create_app(config)) as client:
        yield client
