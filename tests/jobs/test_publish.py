"""Publishing a real ALS model for serving, read back through the API from a real Redis."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import ApiSettings
from contracts.tables import load_tables
from jobs.publish import Trained, build_bundle, publish_serving
from recsys.business_rules import Rules
from recsys.matrix import build_interactions
from recsys.models import create_model
from store.client import sync_client
from store.versions import Versions


def write_tables(root, n_customers=40, n_items=20, seed=3):
    """Two taste groups: even customers buy category A (items 0-9), odd ones category B."""
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n_items)],
            "kind": ["product"] * n_items,
            "title": [f"Item {i}" for i in range(n_items)],
            "category": ["A" if i < n_items // 2 else "B" for i in range(n_items)],
            "price": 10.0,
        }
    )
    rows = []
    for c in range(n_customers):
        pool = np.arange(n_items // 2) + (0 if c % 2 == 0 else n_items // 2)
        for j, item in enumerate(rng.choice(pool, size=4, replace=False)):
            kind = "purchase" if j == 0 else "view"
            rows.append((f"e{c}-{j}", f"c{c}", f"i{item}", kind, f"2024-05-{1 + j:02d}T10:00:00Z"))
    events = pd.DataFrame(rows, columns=["event_id", "customer_id", "item_id", "type", "timestamp"])
    customers = pd.DataFrame(
        {"customer_id": [f"c{c}" for c in range(n_customers)], "loyalty_tier": "silver"}
    )
    root.mkdir(parents=True, exist_ok=True)
    items.to_csv(root / "items.csv", index=False)
    events.to_csv(root / "events.csv", index=False)
    customers.to_csv(root / "customers.csv", index=False)
    return load_tables(root)


@pytest.fixture
def published(store_config):
    tables = write_tables(store_config.data_dir)
    inter = build_interactions(tables["events"])
    model = create_model("als", factors=8, iterations=10).fit(inter.matrix)
    trained = Trained(model=model, interactions=inter, name="als", version="m1")
    bundle = build_bundle(tables=tables, trained=trained, segments=None, rules=Rules())
    client = sync_client(store_config.redis_url)
    version = publish_serving(client, store_config, bundle, meta={"model": "m1"})
    yield tables, version, client
    client.close()


def test_publish_switches_the_serving_version(published, store_config):
    _, version, client = published
    assert Versions(client, store_config).live("serving") == version


def test_customers_get_their_own_taste_and_not_what_they_bought(published, store_config):
    tables, _, _ = published
    events = tables["events"]
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    in_taste = 0
    total = 0
    with TestClient(create_app(settings)) as http:
        for c in range(0, 40, 3):
            body = http.get(f"/v1/customers/c{c}/recommendations", params={"k": 3}).json()
            ids = [i["item_id"] for i in body["items"]]
            bought = set(
                events[(events.customer_id == f"c{c}") & (events.type == "purchase")].item_id
            )
            assert not bought & set(ids)
            taste = "A" if c % 2 == 0 else "B"
            in_taste += sum(i["category"] == taste for i in body["items"])
            total += len(ids)
    assert in_taste / total > 0.8  # chance is 0.5


def load_shared(store_config, version):
    """The version's shared data as an API process loads it."""
    import asyncio

    from store.client import async_client
    from store.keys import Keys
    from store.serving import ServingReader

    async def load():
        client = async_client(store_config.redis_url)
        try:
            return await ServingReader(client, Keys()).load_shared(version)
        finally:
            await client.aclose()

    return asyncio.run(load())


def test_similar_items_and_item_factors_are_published(published, store_config):
    _, version, _ = published
    shared = load_shared(store_config, version)
    assert shared.item_factors is not None and shared.item_factors.shape == (20, 8)
    assert shared.similar is not None
    neighbours, _ = shared.similar
    # neighbours of an A item are mostly A items
    a_items = neighbours[:10, :5]
    assert (a_items[a_items >= 0] < 10).mean() > 0.7


def test_each_customers_purchases_are_published_for_the_exclusion_rule(published, store_config):
    from store.codec import unpack_ranked
    from store.keys import Keys

    tables, version, client = published
    events, items = tables["events"], tables["items"]
    item_ids = items["item_id"].tolist()
    for c in (0, 1, 17):
        raw = client.get(Keys().customer_data("serving", version, f"c{c}", "consumed"))
        indices, _ = unpack_ranked(raw)
        expected = set(
            events[(events.customer_id == f"c{c}") & (events.type == "purchase")].item_id
        )
        assert {item_ids[i] for i in indices.tolist()} == expected


def test_popular_lists_rank_each_kind_on_its_own_and_favour_recent_activity():
    from jobs.published_tables import popular_lists

    items = pd.DataFrame(
        {
            "item_id": ["p-old", "p-new", "c1", "o1"],
            "kind": ["product", "product", "content", "offer"],
        }
    )
    rows = [("p-old", "purchase", "2024-01-01")] * 5  # bought a lot, long ago
    rows += [("p-new", "purchase", "2024-06-01")] * 2  # bought a little, lately
    rows += [("c1", "view", "2024-06-01"), ("o1", "click", "2024-06-01")]
    events = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(rows))],
            "item_id": [r[0] for r in rows],
            "type": [r[1] for r in rows],
            "timestamp": pd.to_datetime([r[2] for r in rows], utc=True),
            "channel": "web",
        }
    )
    lists = popular_lists(events, items, None)
    ids = items["item_id"].tolist()
    assert ids[lists["global"][0][0]] == "p-new"
    assert [ids[i] for i in lists["kind:product"][0]] == ["p-new", "p-old"]
    assert [ids[i] for i in lists["kind:content"][0]] == ["c1"]
    assert [ids[i] for i in lists["kind:offer"][0]] == ["o1"]
    assert "channel:web" in lists


def test_popular_lists_per_segment_leave_out_prospects_without_one():
    from jobs.published_tables import popular_lists

    items = pd.DataFrame({"item_id": ["p1", "c1", "o1"], "kind": ["product", "content", "offer"]})
    events = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b"],
            "item_id": ["p1", "o1", "c1", "p1"],
            "type": "view",
            "timestamp": pd.to_datetime(["2024-06-01"] * 4, utc=True),
            "channel": "web",
        }
    )
    segments = pd.DataFrame({"customer_id": ["a", "b"], "rfm_segment": ["Champions", ""]})
    lists = popular_lists(events, items, segments)
    named = sorted(name for name in lists if name.startswith("segment:"))
    assert named == ["segment:Champions", "segment:Champions:kind:content",
                     "segment:Champions:kind:offer"]  # fmt: skip
    ids = items["item_id"].tolist()
    assert [ids[i] for i in lists["segment:Champions:kind:offer"][0]] == ["o1"]


def test_each_published_rec_names_the_anchor_the_request_path_would(published, store_config):
    """The batch works the reasons' anchors out ahead (`why`); they must be the ones the
    request path finds for the same customer with no live events."""
    from api.services.catalogue import _build
    from api.services.reasons import anchor_of
    from api.services.session import Session
    from recsys.explain import ANCHORS, NO_ANCHOR
    from store.codec import unpack_ranked
    from store.keys import Keys
    from store.profile import CustomerContext

    _, version, client = published
    shared = load_shared(store_config, version)
    named = 0
    for c in range(40):
        key = lambda name, c=c: Keys().customer_data("serving", version, f"c{c}", name)  # noqa: E731
        recs, _ = unpack_ranked(client.get(key("recs")))
        history, _ = unpack_ranked(client.get(key("hist")))
        why = client.get(key("why"))
        assert why is not None and len(why) == len(recs)
        session = Session(shared, _build(shared), CustomerContext(f"c{c}"), False, 0.0, "")
        session.anchors = [(int(a), "liked") for a in history[:ANCHORS].tolist()]
        for index, place in zip(recs.tolist(), why, strict=True):
            found = anchor_of(session, index)
            assert place == (NO_ANCHOR if found is None else session.anchors.index(found))
            named += place != NO_ANCHOR
    assert named > 0  # the check above saw anchors, not only "none"
