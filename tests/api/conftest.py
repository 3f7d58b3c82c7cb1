"""Fixtures of the fast-path tests: the app as served beside the same app with the fast path
off (FastAPI's own dependency solving and validation), and a spy on the fast path's answers."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

import api.fastpath
from api.app import create_app
from api.services import insights as insights_service
from api.settings import ApiSettings
from tests.api.personal_factories import bundle, catalogue, publish


@pytest.fixture(autouse=True)
def cold_insights_cache(monkeypatch):
    """Every API test starts with a cold insights cache: no published version (or sentiment
    model, which intake reads for follow-up cases) outlives the test that published it."""
    monkeypatch.setattr(insights_service, "CACHE", insights_service.DocumentCache(live_seconds=0))


@pytest.fixture
def answered(monkeypatch):
    """The customers the fast path itself answered."""
    calls = []
    real = api.fastpath.answer

    async def spy(*args, **kwargs):
        calls.append(kwargs["customer_id"])
        return await real(*args, **kwargs)

    monkeypatch.setattr("api.fastpath.answer", spy)
    return calls


@pytest.fixture
def clients(redis_client, store_config):
    """(the app as served, the same app answering only through its declared routes), over
    the small published catalogue."""
    publish(redis_client, store_config, bundle(catalogue()))
    settings = ApiSettings(data_dir=store_config.data_dir, redis_url=store_config.redis_url)
    fast = create_app(settings)
    declared = create_app(settings)
    declared.fast_ahead = False  # type: ignore[attr-defined]
    with TestClient(fast) as a, TestClient(declared) as b:
        yield a, b
