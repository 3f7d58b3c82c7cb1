"""rules/webhooks.yaml is refused at load, with file and line, when a URL is unsafe."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from contracts.errors import InvalidInput
from contracts.yaml_lines import ConfigError
from webhooks.config import ALLOW_HOSTS_ENV, load_webhooks

SECRET = "s" * 32


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "webhooks.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def endpoint(url: str, extra: str = "") -> str:
    return f"""\
        allow_hosts: [hooks.example.com, "*.crm.example.org"]
        endpoints:
          - name: desk
            secret_env: HOOK_SECRET
            url: {url}
        {extra}"""


def refused(tmp_path: Path, text: str, **kwargs: object) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_webhooks(write(tmp_path, text), env={"HOOK_SECRET": SECRET}, **kwargs)  # type: ignore[arg-type]
    return info.value


def test_a_full_configuration_loads_with_defaults_and_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
        defaults: {max_attempts: 4, backoff: {base_seconds: 2, max_seconds: 60, jitter: 0.2}}
        endpoints:
          - {name: a, url: "http://127.0.0.1:9/x", secret_env: S, queues: [support]}
          - {name: b, url: "https://localhost/y", secret_env: S, kinds: [case.overdue],
             max_attempts: 9, timeout_seconds: 0.5}
        """,
    )
    config = load_webhooks(path, env={"S": SECRET}, need_secrets=True)
    a, b = config.endpoints
    assert (a.max_attempts, a.backoff.base_seconds, a.backoff.jitter) == (4, 2.0, 0.2)
    assert (b.max_attempts, b.timeout_seconds) == (9, 0.5)
    assert [e.name for e in config.targets("case.opened", "support")] == ["a"]
    assert [e.name for e in config.targets("case.overdue", "delivery")] == ["b"]
    assert [e.name for e in config.targets("case.overdue", "support")] == ["a", "b"]


def test_a_missing_file_means_no_webhooks(tmp_path: Path) -> None:
    assert load_webhooks(tmp_path / "absent.yaml").endpoints == ()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/h",
        "http://127.9.9.9/h",
        "http://[::1]:1/h",
        "http://localhost/h",
        "https://hooks.example.com/h",
        "https://a.crm.example.org/h",
        "https://HOOKS.example.com/h",
    ],
)
def test_loopback_and_allowed_hosts_are_accepted(tmp_path: Path, url: str) -> None:
    config = load_webhooks(write(tmp_path, endpoint(url)), env={})
    assert config.endpoints[0].url == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://127.0.0.1/h", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("https://evil.example.net/h", "'evil.example.net' is not allowed"),
        ("https://hooks.example.com.evil.net/h", "is not allowed"),
        ("https://crm.example.org/h", "is not allowed"),  # the pattern is for sub-domains
        ("http://10.0.0.5/h", "'10.0.0.5' is not allowed"),
        ("http://user:pw@127.0.0.1/h", "credentials"),
    ],
)
def test_unsafe_urls_are_refused_at_their_line(tmp_path: Path, url: str, reason: str) -> None:
    error = refused(tmp_path, endpoint(url))
    assert isinstance(error, InvalidInput)
    assert error.line == 5 and error.key == "endpoints[0].url"
    assert reason in str(error) and "webhooks.yaml, line 5" in str(error)


def test_the_environment_extends_the_allow_list(tmp_path: Path) -> None:
    path = write(tmp_path, endpoint("https://partner.example.net/h"))
    with pytest.raises(ConfigError):
        load_webhooks(path, env={})
    config = load_webhooks(path, env={ALLOW_HOSTS_ENV: "other.org, partner.example.net"})
    assert config.endpoints[0].url == "https://partner.example.net/h"


@pytest.mark.parametrize(
    ("extra", "line", "key", "reason"),
    [
        ("    kinds: [case.opened, case.exploded]", 6, "endpoints[0].kinds[1]", "unknown kind"),
        ("    colour: blue", 6, "endpoints[0].colour", "unknown key"),
        ("    max_attempts: 0", 6, "endpoints[0].max_attempts", "an integer from 1 to 100"),
        (
            "    backoff: {base_seconds: 5, max_seconds: 1}",
            6,
            "endpoints[0].backoff.max_seconds",
            "from 5",
        ),
        ("    backoff: {jitter: 2}", 6, "endpoints[0].backoff.jitter", "from 0 to 1"),
        (
            "  - {name: desk, url: 'http://127.0.0.1/x', secret_env: X}",
            6,
            "endpoints[1].name",
            "named twice",
        ),
    ],
)
def test_bad_keys_are_refused_with_file_line_and_key(
    tmp_path: Path, extra: str, line: int, key: str, reason: str
) -> None:
    error = refused(tmp_path, endpoint("http://127.0.0.1/h", extra))
    assert (error.line, error.key) == (line, key)
    assert reason in error.reason


def test_the_worker_needs_every_secret(tmp_path: Path) -> None:
    path = write(tmp_path, endpoint("http://127.0.0.1/h"))
    assert load_webhooks(path, env={}).endpoints[0].secret_env == "HOOK_SECRET"  # CLI listing
    with pytest.raises(ConfigError) as info:
        load_webhooks(path, env={"HOOK_SECRET": "short"}, need_secrets=True)
    assert info.value.line == 4 and "HOOK_SECRET" in info.value.reason


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    error = refused(tmp_path, "endpoints:\n  - name: [unclosed\n")
    assert error.line == 3 and "not valid YAML" in error.reason


def test_the_shipped_file_loads(tmp_path: Path) -> None:
    shipped = Path(__file__).parents[2] / "rules" / "webhooks.yaml"
    assert load_webhooks(shipped, env={}, need_secrets=True).endpoints == ()
