"""Experiments in a real Redis: definitions, exposures, attribution, rows for the statistics."""

from __future__ import annotations

import asyncio
import math

import pytest
import redis
import redis.asyncio as aioredis

from experiments.attribution import ConversionEvent
from experiments.errors import ExperimentNotFound
from experiments.model import Experiment, merge_definitions
from store.experiment_store import AsyncExperimentStore, ExperimentStore, Served
from store.keys import Keys
from tests.experiments.factories import experiment

T0 = 1_700_000_000.0
HOUR = 3600.0


@pytest.fixture
def store(redis_client: redis.Redis) -> ExperimentStore:
    return ExperimentStore(redis_client, Keys("tp"))


@pytest.fixture
def defs(store: ExperimentStore) -> dict[str, Experiment]:
    exps = [
        experiment("home", attribution_window_hours=24, conversion_types=["purchase", "click"]),
        experiment("email", layer="email", attribution_window_hours=2),
    ]
    store.save(exps)
    return store.definitions()


def expose(store: ExperimentStore, customer: str, rid: str | None, ts: float, **variants: str):
    served = [Served(k, v) for k, v in variants.items()]
    store.record_exposure(customer_id=customer, served=served, recommendation_id=rid, timestamp=ts)


def convert(store: ExperimentStore, event: ConversionEvent, defs: dict) -> list[str]:
    """Record one conversion; the experiment keys it was counted for."""
    return store.record_conversions([event], defs)[0]


def test_definitions_round_trip_and_bump_the_revision(store: ExperimentStore) -> None:
    first = experiment("home", weights=(50, 50), description="ALS vs LightFM")
    rev1 = store.save([first])
    assert store.get("home") == first
    updated = merge_definitions(store.definitions(), [experiment("home", weights=(60, 40))])
    rev2 = store.save(updated)
    assert rev2 == rev1 + 1
    stored = store.get("home")
    # control kept its original range and took 1,000 buckets from the end of v1's
    assert stored.allocation == {"control": [(0, 5000), (9000, 10000)], "v1": [(5000, 9000)]}
    with pytest.raises(ExperimentNotFound):
        store.get("nope")
    store.delete("home")
    assert store.definitions() == {}


def test_exposures_are_counted_per_customer_with_the_first_variant_kept(
    store: ExperimentStore, defs: dict
) -> None:
    expose(store, "alice", "r1", T0, home="control")
    expose(store, "alice", "r2", T0 + 60, home="control", email="v1")
    expose(store, "bob", "r3", T0 + 120, home="v1")
    expose(store, "bob", "r4", T0 + 180, home="control")  # moved by a weight change
    store.record_exposure(customer_id="carol", served=[], recommendation_id="r5", timestamp=T0)
    rows = store.customer_rows("home")
    got = dict(
        zip(
            rows.customer_ids,
            zip(rows.variants, rows.exposures, rows.first_exposure, strict=True),
            strict=True,
        )
    )
    assert got == {"alice": ("control", 2, T0), "bob": ("v1", 2, T0 + 120)}
    assert store.customer_rows("email").customer_ids == ["alice"]


def test_conversion_via_recommendation_id_counts_once_with_revenue(
    store: ExperimentStore, defs: dict
) -> None:
    expose(store, "alice", "r1", T0, home="control", email="v1")
    event = ConversionEvent("alice", "purchase", T0 + HOUR, 25.5, "r1", event_id="e1")
    assert convert(store, event, defs) == ["email", "home"]
    assert convert(store, event, defs) == []  # the same event again
    event2 = ConversionEvent("alice", "purchase", T0 + 1.5 * HOUR, 4.5, "r1", event_id="e2")
    assert convert(store, event2, defs) == ["email", "home"]
    rows = store.customer_rows("home")
    assert (rows.conversions, rows.revenue) == ([2], [30.0])


def test_attribution_respects_window_type_and_exposure(store: ExperimentStore, defs: dict) -> None:
    expose(store, "alice", None, T0, home="v1", email="control")
    late = ConversionEvent("alice", "purchase", T0 + 3 * HOUR, 10.0)  # past email's 2h window
    assert convert(store, late, defs) == ["home"]
    click = ConversionEvent("alice", "click", T0 + HOUR)  # email counts purchases only
    assert convert(store, click, defs) == ["home"]
    too_late = ConversionEvent("alice", "purchase", T0 + 25 * HOUR, 10.0)
    assert convert(store, too_late, defs) == []
    before = ConversionEvent("alice", "purchase", T0 - HOUR, 10.0)
    assert convert(store, before, defs) == []
    stranger = ConversionEvent("zed", "purchase", T0 + HOUR, 10.0, "r-unknown")
    assert convert(store, stranger, defs) == []
    assert store.customer_rows("home").conversions == [2]
    assert store.customer_rows("home").revenue == [10.0]
    assert store.customer_rows("email").conversions == [0]


def test_a_recommendation_id_keeps_attribution_after_a_newer_exposure(
    store: ExperimentStore, defs: dict
) -> None:
    expose(store, "alice", "r1", T0, email="v1")
    expose(store, "alice", "r2", T0 + 3 * HOUR, home="control")
    # the email exposure of r1 is outside its window by now: neither path counts it
    event = ConversionEvent("alice", "purchase", T0 + 3.5 * HOUR, 1.0, "r1")
    assert convert(store, event, defs) == ["home"]
    # within email's window through r1; before the home exposure, so not for home
    inside = ConversionEvent("alice", "purchase", T0 + 1 * HOUR, 1.0, "r1")
    assert convert(store, inside, defs) == ["email"]


def test_pre_spend_joins_the_rows_and_unknown_is_nan(store: ExperimentStore, defs: dict) -> None:
    expose(store, "alice", None, T0, home="control")
    expose(store, "bob", None, T0, home="v1")
    store.save_pre_spend("home", {"alice": 120.0, "zed": 3.0})
    rows = store.customer_rows("home")
    pre = dict(zip(rows.customer_ids, rows.pre_spend, strict=True))
    assert pre["alice"] == 120.0 and math.isnan(pre["bob"])


def test_async_store_writes_what_the_sync_store_reads(
    redis_url: str, store: ExperimentStore, defs: dict
) -> None:
    async def scenario() -> list[str]:
        client = aioredis.Redis.from_url(redis_url)
        try:
            astore = AsyncExperimentStore(client, Keys("tp"))
            loaded = await astore.definitions()
            assert await astore.revision() >= 1
            await astore.record_exposure(
                customer_id="dan",
                served=[Served("home", "v1")],
                recommendation_id="r9",
                timestamp=T0,
            )
            event = ConversionEvent("dan", "purchase", T0 + 10, 7.0, "r9", "e9")
            other = ConversionEvent("dan", "add_to_cart", T0 + 20)  # not a conversion for home
            found, none = await astore.record_conversions([event, other], loaded)
            assert none == []
            rows = await astore.customer_rows("home")
            assert (rows.customer_ids, rows.conversions, rows.revenue) == (["dan"], [1], [7.0])
            return found
        finally:
            await client.aclose()

    assert asyncio.run(scenario()) == ["home"]
    assert store.customer_rows("home").exposures == [1]
