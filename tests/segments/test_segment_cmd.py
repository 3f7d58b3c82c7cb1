"""`touchpoint segment` end to end: CSV data dir in, table out, a version in a real Redis."""

from __future__ import annotations

from pathlib import Path

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

from jobs.cli import build_app
from store.config import StoreConfig
from store.versions import Versions


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    (data / "customers.csv").write_text(
        "customer_id,created_at,loyalty_tier\na,2024-01-01,gold\nb,2024-01-01,none\n"
        "c,2024-02-01,silver\n"
    )
    (data / "items.csv").write_text("item_id,category\ni1,books\ni2,toys\n")
    (data / "events.csv").write_text(
        "event_id,customer_id,item_id,type,timestamp,order_id,value\n"
        "e1,a,i1,purchase,2024-03-01T10:00:00Z,o1,100\n"
        "e2,a,i2,purchase,2024-03-01T10:00:00Z,o1,50\n"
        "e3,a,i1,purchase,2024-04-01T10:00:00Z,o2,70\n"
        "e4,b,i2,view,2024-04-02T10:00:00Z,,\n"
        "e5,c,i2,purchase,2024-04-03T10:00:00Z,,20\n"
    )
    return data


def _run(args: list[str], redis_url: str) -> tuple[int, str]:
    result = CliRunner().invoke(build_app(), args, env={"TOUCHPOINT_REDIS_URL": redis_url})
    return result.exit_code, result.output


def test_writes_the_table_and_publishes_a_version(
    data_dir: Path, tmp_path: Path, store_config: StoreConfig, redis_client
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("segments:\n  - name: big\n    rule: monetary >= 200\n")
    out = tmp_path / "out" / "segments.csv"
    code, output = _run(["segment", "--data", str(data_dir), "--segment-definitions",
                         str(rules), "--output", str(out), "--json"],
                        store_config.redis_url or "")  # fmt: skip
    assert code == 0, output
    summary = orjson.loads(output.strip().splitlines()[-1])
    table = pd.read_csv(out, keep_default_na=False).set_index("customer_id")
    assert list(table.index) == ["a", "b", "c"]
    assert table.loc["a", "frequency"] == 2 and table.loc["a", "monetary"] == 220
    assert table.loc["b", "lifecycle_stage"] == "prospect"
    assert "big" in table.loc["a", "segments"].split(";")
    assert "big" not in table.loc["c", "segments"].split(";")
    assert Versions(redis_client, store_config).live("segments") == summary["version"]


def test_bad_rule_and_bad_output_exit_2_with_a_clear_message(
    data_dir: Path, tmp_path: Path, store_config: StoreConfig
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("- name: typo\n  rule: monetry >= 200\n")
    code, output = _run(["segment", "--data", str(data_dir), "--segment-definitions",
                         str(rules)], store_config.redis_url or "")  # fmt: skip
    assert code == 2 and "typo" in output and "monetry" in output
    # the old flag still reads the file (one release), with a deprecation warning
    code, output = _run(["segment", "--data", str(data_dir), "--rules", str(rules)],
                        store_config.redis_url or "")  # fmt: skip
    assert code == 2 and "monetry" in output
    code, output = _run(["segment", "--data", str(data_dir), "--output", "x.xlsx"],
                        store_config.redis_url or "")  # fmt: skip
    assert code == 2 and ".parquet or .csv" in output
