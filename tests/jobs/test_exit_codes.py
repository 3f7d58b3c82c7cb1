"""Every kind of the error family leaves the `touchpoint` CLI with its one exit code (2 bad
input or not found, 1 a refused or failed step) and one line naming what went wrong: through
the real app, first with a command that raises each kind, then with real commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
import typer
from typer.testing import CliRunner, Result

from contracts import errors as family
from experiments.errors import ExperimentNotFound, InvalidExperiment
from jobs.cli import build_app
from recsys.business_rules_schema import BusinessRulesError
from recsys.errors import ModelRejected, RegistryError, UnknownIdError
from segments.errors import SegmentRuleError
from store.config import StoreConfig
from store.embedded import EmbeddedRedisError
from store.keys import Keys

BAD_EVENTS = "event_id,customer_id,item_id,type,timestamp\ne1,c1,i1,view,2024-01-01\n" + (
    "e2,c1,i1,view,not-a-date\n"
)


def raising(error: Exception) -> typer.Typer:
    """The real app with one more command, `boom`, that raises `error`."""
    app = build_app()

    @app.command("boom")
    def boom() -> None:
        raise error

    return app


def squeezed(text: str) -> str:
    """Without white space: rich wraps a long line wherever the terminal width falls."""
    return "".join(text.split())


def says(result: Result, message: str) -> bool:
    return squeezed(message) in squeezed(result.output)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (family.InvalidInput("--k must be positive"), 2, "--k must be positive"),
        (family.DataError("events.csv", 2, "timestamp", "unparseable timestamp 'x'"), 2,
         "events.csv, row 2, column 'timestamp': unparseable timestamp 'x'"),
        (BusinessRulesError("rules/web.yaml", "caps.per_item", "is required"), 2,
         "rules/web.yaml: caps.per_item: is required"),
        (SegmentRuleError("vip", "unknown field 'spend'"), 2, "rule 'vip': unknown field 'spend'"),
        (InvalidExperiment("a.yaml", "weights must sum to 100", "variants"), 2,
         "a.yaml, field 'variants': weights must sum to 100"),
        (UnknownIdError("item", ["i9"], 1), 2, "unknown item id(s): 'i9'"),
        (family.NotFound("no such thing"), 2, "no such thing"),
        (RegistryError("unknown model version 'v9'"), 2, "unknown model version 'v9'"),
        (ExperimentNotFound("exp9"), 2, "no experiment with key 'exp9'"),
        (family.Conflict("another ingest is draining"), 1, "another ingest is draining"),
        (ModelRejected("worse than popularity"), 1, "worse than popularity"),
        (family.Unavailable("Redis: connection refused"), 1, "Redis: connection refused"),
        (EmbeddedRedisError("redis-server failed to start"), 1, "redis-server failed to start"),
        (family.TouchpointError("the step failed"), 1, "the step failed"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else None,
)  # fmt: skip
def test_each_kind_exits_with_its_code_and_one_line(
    error: Exception, code: int, message: str
) -> None:
    result = CliRunner().invoke(raising(error), ["boom"])
    assert result.exit_code == code, result.output
    assert squeezed(result.output) == squeezed(f"error: {message}")
    assert "Traceback" not in result.output


def test_a_message_with_brackets_is_printed_as_written() -> None:
    result = CliRunner().invoke(raising(family.InvalidInput("pins[0] [red] is wrong")), ["boom"])
    assert squeezed(result.output) == squeezed("error: pins[0] [red] is wrong")


def test_an_error_outside_the_family_is_not_turned_into_an_exit_code() -> None:
    result = CliRunner().invoke(raising(ZeroDivisionError("a bug")), ["boom"])
    assert isinstance(result.exception, ZeroDivisionError)  # a bug keeps its traceback


def test_a_bad_data_file_exits_2_naming_file_row_and_column(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("item_id\ni1\n")
    (tmp_path / "events.csv").write_text(BAD_EVENTS)
    args = ["segment", "--data", str(tmp_path), "--no-publish"]
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2
    assert says(result, "events.csv, row 2, column 'timestamp'")


def test_a_bad_segment_definition_exits_2_naming_the_rule(tmp_path: Path) -> None:
    (tmp_path / "items.csv").write_text("item_id\ni1\n")
    (tmp_path / "events.csv").write_text(BAD_EVENTS.splitlines(keepends=True)[0] + (
        "e1,c1,i1,purchase,2024-01-01\n"))  # fmt: skip
    rules = tmp_path / "segments.yaml"
    rules.write_text("segments:\n  - {name: vip, rule: 'spend >'}\n")
    args = ["segment", "--data", str(tmp_path), "--segment-definitions", str(rules),
            "--no-publish"]  # fmt: skip
    result = CliRunner().invoke(build_app(), args)
    assert result.exit_code == 2, result.output
    assert says(result, "rule 'vip'")


def test_a_bad_business_rules_file_exits_2_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "default.yaml").write_text("diversity: {max_per_category: -1}\n")
    monkeypatch.setenv("TOUCHPOINT_RULES_DIR", str(rules))
    result = CliRunner().invoke(build_app(), ["train", "--data", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert says(result, "default.yaml: diversity.max_per_category: must be a positive integer")


def test_an_unknown_api_key_exits_2(redis_url: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        build_app(), ["keys", "revoke", "0000abcd", "--data", str(tmp_path)],
        env={"TOUCHPOINT_REDIS_URL": redis_url},
    )  # fmt: skip
    assert result.exit_code == 2
    assert says(result, "no API key with id '0000abcd'")


def test_a_running_ingest_refuses_a_second_one_with_exit_1(
    redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    keys = Keys(StoreConfig(data_dir=tmp_path, redis_url=redis_url).namespace)
    redis_client.set(keys.stream_lock("events"), "another run")
    result = CliRunner().invoke(
        build_app(), ["ingest", "--data", str(tmp_path)], env={"TOUCHPOINT_REDIS_URL": redis_url}
    )
    assert result.exit_code == 1
    assert says(result, "another ingest is draining the events stream")


def test_redis_out_of_reach_exits_1(tmp_path: Path) -> None:
    nowhere = f"unix://{tmp_path / 'no-redis.sock'}"
    result = CliRunner().invoke(
        build_app(), ["keys", "list", "--data", str(tmp_path)],
        env={"TOUCHPOINT_REDIS_URL": nowhere},
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    assert squeezed(result.output).startswith("error:Redis:")
    assert "Traceback" not in result.output
