"""Variants serve their strategy: real HTTP (TestClient, the real app) against a real Redis.

Known customers have personal candidates (category A items, each customer its own order);
the channel's popular list is category B first. A `popularity` variant must serve exactly
the popular list, the control the customer's own candidates; a rules profile must change
what its variant serves and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from experiments.model import parse_experiment
from store.config import StoreConfig
from store.experiment_store import ExperimentStore
from store.keys import Keys
from store.serving import ServingBundle, write_serving
from store.versions import Versions

N_ITEMS = 20  # i0..i9 category A, i10..i19 category B
CUSTOMERS = [f"c{n}" for n in range(40)]
WEB_POPULAR = [12, 15, 11, 18, 10, 13, 19, 14, 16, 17, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
SIMILAR = [17, 16, 14]  # every item's similar items: the fresh ranking after a live view


def personal(n: int) -> list[int]:
    """Customer `c{n}`'s candidates: six category-A items, a different order per customer."""
    return [(n + 3 * j) % 10 for j in range(6)]


def ids(indices: list[int]) -> list[str]:
    return [f"i{i}" for i in indices]


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "rules"
    (directory / "profiles").mkdir(parents=True)
    (directory / "default.yaml").write_text("exclusions: {consumed: true}\n")
    (directory / "profiles" / "curated.yaml").write_text(
        "pins: [{item_id: i19, position: 1}]\ndiversity: {max_per_category: 1}\n"
    )
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(directory))
    return directory


@pytest.fixture
def client(
    redis_client: redis.Redis, store_config: StoreConfig, rules_dir: Path
) -> Iterator[TestClient]:
    items = [{"item_id": f"i{i}", "kind": "product", "title": f"Item {i}",
              "category": "A" if i < 10 else "B", "price": 10.0 + i, "channels": [],
              "in_stock": True} for i in range(N_ITEMS)]  # fmt: skip
    scores = np.linspace(1, 0, N_ITEMS, dtype=np.float32)
    bundle = ServingBundle(
        items=items,
        popular={
            "global": (np.arange(N_ITEMS, dtype=np.uint32), scores),
            "channel:web": (np.array(WEB_POPULAR, np.uint32), scores),
        },
        customer_recs=[
            (c, (np.array(personal(n), np.uint32), np.linspace(1, 0.5, 6, dtype=np.float32)))
            for n, c in enumerate(CUSTOMERS)
        ],
        model={"name": "als", "version": "als-1", "fold_in": False},
        similar=(np.tile(np.array(SIMILAR, np.int32), (N_ITEMS, 1)),
                 np.tile(np.array([0.9, 0.8, 0.7], np.float32), (N_ITEMS, 1))),
    )  # fmt: skip
    Versions(redis_client, store_config).publish("serving", lambda r: write_serving(r, bundle))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def two_variants(key: str, treatment: dict[str, object], control: dict[str, object]) -> dict:
    return {"key": key, "status": "running", "control": "a",
            "variants": [{"name": "a", "weight": 50, "strategy": control},
                         {"name": "b", "weight": 50, "strategy": treatment}]}  # fmt: skip


def serve_all(client: TestClient, k: int = 5) -> dict[str, dict]:
    """Every known customer's answer on the web channel, by variant: {variant: {customer: body}}."""
    by_variant: dict[str, dict] = {}
    for customer in CUSTOMERS:
        response = client.get(f"/v1/customers/{customer}/recommendations",
                              params={"channel": "web", "k": k})  # fmt: skip
        assert response.status_code == 200, response.text
        body = response.json()
        (tag,) = body["experiments"]
        by_variant.setdefault(tag["variant"], {})[customer] = body
    assert len(by_variant.get("a", {})) >= 2 and len(by_variant.get("b", {})) >= 2
    return by_variant


def served(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


def test_popularity_variant_serves_the_popular_list_and_control_the_personal_one(
    client: TestClient,
) -> None:
    exp = two_variants("pop", {"model": "popularity"}, {"model": "als", "fallback": "popular"})
    assert client.put("/v1/experiments/pop", json=exp).status_code == 200
    by_variant = serve_all(client)
    for body in by_variant["b"].values():  # the same popular list for different customers
        assert served(body) == ids(WEB_POPULAR[:5])
        assert body["strategy"] == "popular"
    for customer, body in by_variant["a"].items():
        assert served(body) == ids(personal(int(customer[1:]))[:5])
        assert body["strategy"] == "personal"
    # no experiment: the customers of variant b get their own candidates again
    stopped = {**exp, "status": "stopped"}
    assert client.put("/v1/experiments/pop", json=stopped).status_code == 200
    customer = next(iter(by_variant["b"]))
    body = client.get(f"/v1/customers/{customer}/recommendations",
                      params={"channel": "web", "k": 5}).json()  # fmt: skip
    assert body["experiments"] == [] and served(body) == ids(personal(int(customer[1:]))[:5])


def test_popularity_variant_ignores_live_events_control_follows_them(client: TestClient) -> None:
    exp = two_variants("pop", {"model": "popularity"}, {})
    assert client.put("/v1/experiments/pop", json=exp).status_code == 200
    now = datetime.now(UTC).isoformat()
    views = [{"event_id": f"v{n}", "customer_id": c, "item_id": "i0", "type": "view",
              "timestamp": now} for n, c in enumerate(CUSTOMERS)]  # fmt: skip
    assert client.post("/v1/events", json={"events": views}).status_code == 202
    by_variant = serve_all(client)
    for body in by_variant["b"].values():
        assert served(body) == ids(WEB_POPULAR[:5]) and body["strategy"] == "popular"
    for body in by_variant["a"].values():  # the fresh (realtime) ranking leads
        assert "i17" in served(body) and body["strategy"].startswith("realtime")


def test_rules_profile_applies_to_its_variant_only(client: TestClient) -> None:
    exp = two_variants("rules", {"rules_profile": "curated"}, {})
    assert client.put("/v1/experiments/rules", json=exp).status_code == 200
    by_variant = serve_all(client, k=4)
    for body in by_variant["b"].values():
        items = body["items"]  # pinned first; diversity mixes in the popular category B
        assert items[0]["item_id"] == "i19"
        categories = [item["category"] for item in items[1:]]
        assert "B" in categories and categories.count("A") < len(categories)
    for customer, body in by_variant["a"].items():
        assert "i19" not in served(body)
        assert served(body) == ids(personal(int(customer[1:]))[:4])  # all category A


def test_unservable_definitions_are_rejected_naming_the_field(client: TestClient) -> None:
    other_model = two_variants("m", {"model": "lightfm"}, {})
    response = client.put("/v1/experiments/m", json=other_model)
    assert response.status_code == 422
    assert "not the live model" in response.json()["detail"]
    assert response.json()["field"] == "variants.1.strategy.model"
    for live in ("als", "als-1", "live"):  # family, model version or `live` are the live model
        ok = two_variants("m", {"model": live}, {})
        assert client.put("/v1/experiments/m", json=ok).status_code == 200
    missing = two_variants("p", {"rules_profile": "nope"}, {})
    response = client.put("/v1/experiments/p", json=missing)
    assert response.status_code == 422 and "nope" in response.json()["detail"]
    draft = {**other_model, "key": "d", "status": "draft"}  # may name a model published later
    assert client.put("/v1/experiments/d", json=draft).status_code == 200


def test_a_stored_unservable_model_serves_its_fallback(
    client: TestClient, redis_client: redis.Redis, store_config: StoreConfig
) -> None:
    # stored without the API's check (as `touchpoint experiments apply` does)
    exp = parse_experiment(
        two_variants("fb", {"model": "lightfm", "fallback": "popular"}, {"model": "als"})
    )
    ExperimentStore(redis_client, Keys(store_config.namespace)).save([exp])
    by_variant = serve_all(client)
    for body in by_variant["b"].values():
        assert served(body) == ids(WEB_POPULAR[:5])
    for customer, body in by_variant["a"].items():
        assert served(body) == ids(personal(int(customer[1:]))[:5])
