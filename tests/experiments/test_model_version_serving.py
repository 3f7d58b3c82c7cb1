"""A variant serving an earlier model version: real HTTP (TestClient) against a real Redis.

Two serving versions from two hand-made bundles: the older (`lightfm-3`) gives every known
customer category-B candidates, the live one (`als-1`) category-A candidates. A 50/50
experiment whose treatment names the older version must serve each variant its version's
candidates and `model_version`; once publishing no longer keeps the older version, the
treatment serves its fallback.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from store.config import StoreConfig
from store.serving import ServingBundle, write_serving
from store.versions import Versions

N_ITEMS = 20  # i0..i9 category A, i10..i19 category B
CUSTOMERS = [f"c{n}" for n in range(40)]
POPULAR = [19, 18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]


def live_candidates(n: int) -> list[int]:
    return [(n + 3 * j) % 10 for j in range(6)]  # category A


def old_candidates(n: int) -> list[int]:
    return [10 + (n + 7 * j) % 10 for j in range(6)]  # category B


def ids(indices: list[int]) -> list[str]:
    return [f"i{i}" for i in indices]


def bundle(model: str, version: str, candidates: object) -> ServingBundle:
    items = [{"item_id": f"i{i}", "kind": "product", "title": f"Item {i}",
              "category": "A" if i < 10 else "B", "price": 10.0 + i, "channels": [],
              "in_stock": True} for i in range(N_ITEMS)]  # fmt: skip
    scores = np.linspace(1, 0, N_ITEMS, dtype=np.float32)
    return ServingBundle(
        items=items,
        popular={"global": (np.array(POPULAR, np.uint32), scores)},
        customer_recs=[
            (c, (np.array(candidates(n), np.uint32), np.linspace(1, 0.5, 6, dtype=np.float32)))  # type: ignore[operator]
            for n, c in enumerate(CUSTOMERS)
        ],
        model={"name": model, "version": version, "fold_in": False},
    )


def publish(versions: Versions, model: str, version: str, candidates: object) -> str:
    data = bundle(model, version, candidates)
    return versions.publish(
        "serving", lambda r: write_serving(r, data), meta={"model": model, "model_version": version}
    )


@pytest.fixture
def versions(redis_client: redis.Redis, store_config: StoreConfig) -> Versions:
    return Versions(redis_client, store_config)


@pytest.fixture
def published(versions: Versions) -> tuple[str, str]:
    old = publish(versions, "lightfm", "lightfm-3", old_candidates)
    live = publish(versions, "als", "als-1", live_candidates)
    return old, live


@pytest.fixture
def rules_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Plain rules (no diversity, no exploration): each answer is the candidates' order."""
    directory = tmp_path / "rules"
    directory.mkdir()
    (directory / "default.yaml").write_text("exclusions: {consumed: true}\n")
    monkeypatch.setenv("TOUCHPOINT_BUSINESS_RULES_DIR", str(directory))
    return directory


@pytest.fixture
def client(
    store_config: StoreConfig, published: tuple[str, str], rules_dir: Path
) -> Iterator[TestClient]:
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    with TestClient(create_app(settings)) as client:
        yield client


def experiment(treatment: str, fallback: str = "popular") -> dict:
    return {"key": "models", "status": "running", "control": "a",
            "variants": [{"name": "a", "weight": 50, "strategy": {"model": "live"}},
                         {"name": "b", "weight": 50,
                          "strategy": {"model": treatment, "fallback": fallback}}]}  # fmt: skip


def serve_all(client: TestClient) -> dict[str, dict[str, dict]]:
    """Every customer's answer by variant: {variant: {customer: body}}."""
    by_variant: dict[str, dict[str, dict]] = {}
    for customer in CUSTOMERS:
        response = client.get(f"/v1/customers/{customer}/recommendations", params={"k": 5})
        assert response.status_code == 200, response.text
        body = response.json()
        (tag,) = body["experiments"]
        assert tag["key"] == "models"
        by_variant.setdefault(tag["variant"], {})[customer] = body
    assert len(by_variant.get("a", {})) >= 5 and len(by_variant.get("b", {})) >= 5
    return by_variant


def served(body: dict) -> list[str]:
    return [item["item_id"] for item in body["items"]]


@pytest.mark.parametrize("name", ["lightfm-3", "serving-version"])
def test_treatment_serves_the_older_version_control_the_live_one(
    client: TestClient, published: tuple[str, str], name: str
) -> None:
    old, live = published
    treatment = old if name == "serving-version" else name
    response = client.put("/v1/experiments/models", json=experiment(treatment))
    assert response.status_code == 200, response.text
    by_variant = serve_all(client)
    for customer, body in by_variant["a"].items():
        assert served(body) == ids(live_candidates(int(customer[1:]))[:5])
        assert (body["model_version"], body["model"]) == (live, "als")
        assert body["strategy"] == "personal"
    for customer, body in by_variant["b"].items():
        assert served(body) == ids(old_candidates(int(customer[1:]))[:5])
        assert (body["model_version"], body["model"]) == (old, "lightfm")
        assert body["strategy"] == "personal"
    # the personalize route (several slots) serves the same version for the same customer
    customer = next(iter(by_variant["b"]))
    request = {"customer_id": customer, "slots": [{"name": "home", "kind": "product", "k": 3}]}
    body = client.post("/v1/personalize", json=request).json()
    assert body["model_version"] == old, body


def test_a_model_no_version_keeps_is_rejected_naming_the_field(client: TestClient) -> None:
    response = client.put("/v1/experiments/models", json=experiment("lightfm-1"))
    assert response.status_code == 422
    assert response.json()["field"] == "variants.1.strategy.model"
    assert "lightfm-3" in response.json()["detail"]  # the kept versions are listed


def test_once_the_older_version_is_retired_treatment_serves_its_fallback(
    client: TestClient, versions: Versions, store_config: StoreConfig
) -> None:
    assert client.put("/v1/experiments/models", json=experiment("lightfm-3")).status_code == 200
    before = serve_all(client)
    assert {body["model"] for body in before["b"].values()} == {"lightfm"}
    newest = ""
    for n in range(store_config.keep_versions):  # the older version drops out of the history
        newest = publish(versions, "als", f"als-{n + 2}", live_candidates)
    assert "lightfm-3" not in [m.get("model_version") for m in versions.history("serving")]
    state = client.app.parts.serving  # type: ignore[attr-defined]
    client.portal.call(state.refresh)  # type: ignore[union-attr]  # what the refresh loop does
    after = serve_all(client)
    assert after.keys() == before.keys()
    for customer, body in after["b"].items():  # the fallback: the popular list of the live one
        assert customer in before["b"]
        assert served(body) == ids(POPULAR[:5]) and body["model_version"] == newest
    for customer, body in after["a"].items():
        assert served(body) == ids(live_candidates(int(customer[1:]))[:5])
    assert state.others == {}
