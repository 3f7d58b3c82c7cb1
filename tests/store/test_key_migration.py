"""`touchpoint migrate-keys` on a real Redis holding keys of the old layout: experiments
under `tp:g:exp:…` and the case streams under `{s:STREAM}` move to their cluster hash tags,
with their values, TTLs and consumer groups; a second run changes nothing; a taken name is a
conflict (exit 1, the old key kept). Run on one server here (RENAMENX) and on the session's
Redis Cluster (DUMP/RESTORE across slots) when `TOUCHPOINT_TEST_REDIS=cluster`; the cluster
path is also in `tests/cluster/test_cluster_features.py`."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest
import redis
from typer.testing import CliRunner, Result

from jobs.cli import build_app
from store.case_events import CASE_EVENTS
from store.events import CASES
from store.experiment_store import ExperimentStore
from store.keys import Keys

KEYS = Keys()
DEFINITION = {"key": "hero", "status": "running", "control": "a",
              "variants": [{"name": "a", "weight": 50}, {"name": "b", "weight": 50}]}  # fmt: skip


def seed_old_layout(client: redis.Redis) -> None:
    """Keys as the previous release wrote them (names spelled out: that layout is gone)."""
    client.hset("tp:g:exp:defs", "hero", orjson.dumps(DEFINITION))
    client.set("tp:g:exp:defs:rev", 3)
    client.hset("tp:g:exp:hero:variant", mapping={"c1": "a", "c2": "b"})
    client.hset("tp:g:exp:hero:exposures", mapping={"c1": 2, "c2": 1})
    client.hset("tp:g:exp:hero:first", "c1", "1700000000.000")
    client.expire("tp:g:exp:hero:first", 3600)
    client.xadd("tp:{s:cases}:stream", {"d": b'{"case_id": "k1"}'})
    client.xgroup_create("tp:{s:cases}:stream", "ingest", id="0")
    client.xadd("tp:{s:case-events}:stream", {"d": b'{"kind": "case.opened"}'})
    client.zadd("tp:{s:case-events}:x:hooks:due", {"k1": 1.0})
    client.set("tp:g:exp:hero:notatable", 1)  # not a key of that layout: left as it is


def migrate(data: Path, *extra: str) -> Result:
    return CliRunner().invoke(build_app(), ["migrate-keys", "--data", str(data), "--json", *extra])


@pytest.fixture
def data(tmp_path: Path, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    return tmp_path / "data"


def test_old_keys_move_to_their_hash_tags_once(data: Path, redis_client: redis.Redis) -> None:
    seed_old_layout(redis_client)
    dry = migrate(data, "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert orjson.loads(dry.stdout)["to rename"] == 8
    assert redis_client.exists("tp:g:exp:defs")  # a dry run changes nothing

    first = migrate(data)
    assert first.exit_code == 0, first.output
    assert orjson.loads(first.stdout) == {"renamed": 8, "conflicts": 0}
    store = ExperimentStore(redis_client)
    assert list(store.definitions()) == ["hero"]
    assert redis_client.get(KEYS.experiments("defs:rev")) == b"3"
    rows = store.customer_rows("hero")
    assert dict(zip(rows.customer_ids, rows.variants, strict=True)) == {"c1": "a", "c2": "b"}
    assert sorted(rows.exposures) == [1, 2]
    assert 0 < redis_client.ttl(KEYS.experiment("hero", "first")) <= 3600
    cases = KEYS.stream(CASES)
    assert redis_client.xlen(cases) == 1
    assert [g["name"] for g in redis_client.xinfo_groups(cases)] == [b"ingest"]
    assert redis_client.xlen(KEYS.stream(CASE_EVENTS)) == 1
    assert redis_client.zscore(KEYS.stream_state(CASE_EVENTS, "hooks:due"), "k1") == 1.0
    assert not redis_client.exists("tp:g:exp:defs", "tp:{s:cases}:stream")
    assert redis_client.exists("tp:g:exp:hero:notatable")

    again = migrate(data)
    assert again.exit_code == 0, again.output
    assert orjson.loads(again.stdout) == {"renamed": 0, "conflicts": 0}


def test_a_taken_new_name_is_a_conflict_and_the_old_key_stays(
    data: Path, redis_client: redis.Redis
) -> None:
    redis_client.set("tp:g:exp:defs:rev", 3)
    redis_client.set(KEYS.experiments("defs:rev"), 7)  # written by a newer release meanwhile
    result = migrate(data)
    assert result.exit_code == 1
    assert "new name is taken" in result.output
    assert redis_client.get("tp:g:exp:defs:rev") == b"3"
    assert redis_client.get(KEYS.experiments("defs:rev")) == b"7"
