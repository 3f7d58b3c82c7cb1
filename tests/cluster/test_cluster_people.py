"""Consent and identity merge on a real three-primary Redis Cluster: each step writes one
slot (the customer's, the visitor's, a stream's), so both work there as on one Redis."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from store.client import connect
from store.keys import Keys
from tests.api.personal_factories import bundle, catalogue, make_client, publish, rules_dir

__all__ = ["rules_dir"]
KEYS = Keys()


@pytest.fixture
def api(cluster_config, rules_dir):
    shutil.copy(Path(__file__).parents[2] / "rules" / "default.yaml", rules_dir / "default.yaml")
    with connect(cluster_config) as client:
        publish(client, cluster_config, bundle(catalogue()))
    yield from make_client(cluster_config, refresh_seconds=0.1)


def test_consent_holds_at_once_on_the_cluster(api):
    assert api.get("/v1/customers/c1/recommendations").json()["strategy"].startswith("personal")
    assert api.put("/v1/customers/c1/consent", json={"personalisation": False}).status_code == 200
    body = api.get("/v1/customers/c1/recommendations").json()
    assert body["personalised"] is False
    view = api.get("/v1/customers/c1/consent").json()
    assert view["consent"]["personalisation"] is False and len(view["history"]) == 1


def test_identity_merge_moves_the_visitors_events_on_the_cluster(api, cluster_config):
    events = [{"event_id": f"v-{n}", "customer_id": "visitor", "item_id": f"p1{n}",
               "type": "click"} for n in range(4)]  # fmt: skip
    assert api.post("/v1/events", json={"events": events}).status_code == 202
    body = {"anonymous_id": "visitor", "customer_id": "c2"}
    first = api.post("/v1/identities/merge", json=body)
    assert first.status_code == 200, first.text
    assert api.post("/v1/identities/merge", json=body).json() == first.json()
    with connect(cluster_config) as client:
        assert client.llen(KEYS.customer("c2", "recent")) == 4
