"""Schema-based fuzzing: schemathesis drives every operation of the app's own OpenAPI
document (ASGI transport, real Redis, a small published serving version) and no answer may
be a 5xx. Bounded (few examples per operation) so it stays a quick test."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from api.app import create_app
from api.settings import ApiSettings
from store.config import StoreConfig
from tests.api.personal_factories import bundle, catalogue, publish

MAX_EXAMPLES = 12


@pytest.fixture(scope="module")
def fuzz_app(redis_server):
    if redis_server.process is None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    home = Path(tempfile.mkdtemp(prefix="tp-fuzz-"))
    config = StoreConfig(data_dir=home / "data", redis_url=redis_server.url)
    publish(client, config, bundle(catalogue()))
    app = create_app(ApiSettings(data_dir=config.data_dir, redis_url=config.redis_url))
    yield app
    from schemathesis.python.asgi import shutdown_lifespans

    shutdown_lifespans()
    client.close()
    shutil.rmtree(home, ignore_errors=True)


def openapi_document() -> dict:
    """The document as the app serves it; building it needs no Redis (no lifespan runs)."""
    return create_app(ApiSettings(redis_url="redis://unused:6379")).openapi()


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_operation_answers_5xx(case, fuzz_app):
    response = case.call(app=fuzz_app)
    case.validate_response(response, checks=[not_a_server_error])
