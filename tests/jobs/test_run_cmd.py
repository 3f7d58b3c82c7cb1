"""`touchpoint run` on bad input: exit code 2, the file, row and column, and nothing published."""

from __future__ import annotations

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
