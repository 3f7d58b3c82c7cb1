"""`touchpoint run` on bad input: exit code 2, the file, row and column, and nothing published."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from jobs.cli import build_app
from store.client import sync_client
from store.config import StoreConfig
from store.versions import Versions


def test_bad_timestamp_exits_2_naming_file_row_and_column(tmp_path, redis_url, monkeypatch):
    monkeypatch.setenv("TOUCHPOINT_REDIS_URL", redis_url)
    (tmp_path / "items.csv").write_text("item_id\ni1\n")
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,item_id,type,timestamp\ne1,c1,i1,view,2024-01-01\n"
        "e2,c1,i1,view,not-a-date\n"
    )
    result = CliRunner().invoke(build_app(), ["run", "--data", str(tmp_path)])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "events.csv, row 2, column 'timestamp'" in message
    client = sync_client(redis_url)
    assert Versions(client, StoreConfig(redis_url=redis_url)).live("serving") is None
    client.close()


def test_demo_curl_json_lists_commands_with_real_ids(tmp_path):
    (tmp_path / "items.csv").write_text("item_id,kind\np1,product\n")
    (tmp_path / "events.csv").write_text(
        "event_id,customer_id,item_id,type,timestamp\ne1,c7,p1,purchase,2024-01-01\n"
    )
    result = CliRunner().invoke(
        build_app(), ["demo-curl", "--data", str(tmp_path), "--port", "9123", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    commands = {row["what"]: row["command"] for row in rows}
    web = commands["products for a known customer on the web"]
    assert "http://127.0.0.1:9123/v1/customers/c7/recommendations" in web
    assert "/v1/items/p1/similar" in commands["items similar to one product"]
