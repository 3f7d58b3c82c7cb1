"""`rules/webhooks.yaml`: which URLs hear about which case events, validated at load.

    allow_hosts: [hooks.example.com, "*.crm.example.com"]  # besides loopback (default: none)
    defaults:                     # every key optional; these are the built-in values
      max_attempts: 8             # deliveries tried before the dead-letter list
      timeout_seconds: 5          # per attempt (connect + answer)
      backoff: {base_seconds: 10, max_seconds: 3600, jitter: 0.5}
    endpoints:
      - name: support-desk        # unique; names the delivery in the dead-letter list
        url: https://hooks.example.com/touchpoint
        secret_env: TOUCHPOINT_WEBHOOK_SECRET_SUPPORT   # env var holding the signing secret
        queues: [support]         # omitted = every queue
        kinds: [case.opened, case.overdue]               # omitted = every kind
        max_attempts: 5           # any key of `defaults` may be overridden per endpoint

Refused at load, with file and line: a URL that is not http(s), a host outside the
allow-list (loopback — `localhost`, 127.0.0.0/8, ::1 — plus `allow_hosts` plus the
comma-separated `TOUCHPOINT_WEBHOOK_ALLOW_HOSTS`), an unknown kind or key, a missing or
short secret (when the worker asks for secrets).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from contracts.yaml_lines import Lines, load_with_lines
from store.case_events import KINDS
from webhooks.timing import Backoff

ALLOW_HOSTS_ENV = "TOUCHPOINT_WEBHOOK_ALLOW_HOSTS"
SECRET_MIN = 16  # characters of a signing secret
_TOP = {"allow_hosts", "defaults", "endpoints"}
_POLICY = {"max_attempts", "timeout_seconds", "backoff"}
_ENDPOINT = {"name", "url", "secret_env", "queues", "kinds"} | _POLICY
_BACKOFF = {"base_seconds", "max_seconds", "jitter"}


@dataclass(frozen=True)
class Endpoint:
    """One receiver: where, how it is signed, what it hears, how hard we try."""

    name: str
    url: str
    secret_env: str
    queues: frozenset[str] | None = None  # None = every queue
    kinds: frozenset[str] | None = None  # None = every kind
    max_attempts: int = 8
    timeout_seconds: float = 5.0
    backoff: Backoff = field(default_factory=Backoff)

    def wants(self, kind: str, queue: str) -> bool:
        return (self.kinds is None or kind in self.kinds) and (
            self.queues is None or queue in self.queues
        )


@dataclass(frozen=True)
class WebhookConfig:
    endpoints: tuple[Endpoint, ...] = ()
    source: str = "no webhooks configured"

    def targets(self, kind: str, queue: str) -> list[Endpoint]:
        return [e for e in self.endpoints if e.wants(kind, queue)]

    def endpoint(self, name: str) -> Endpoint | None:
        return next((e for e in self.endpoints if e.name == name), None)


def host_allowed(host: str, allowed: frozenset[str]) -> bool:
    """Loopback always; else an exact name of `allowed` or a `*.suffix` pattern of it."""
    host = host.lower().rstrip(".")
    if host == "localhost":
        return True
    try:
        if ipaddress.ip_address(host).is_loopback:
            return True
    except ValueError:
        pass
    for pattern in allowed:
        if pattern == host or (pattern.startswith("*.") and host.endswith(pattern[1:])):
            return True
    return False


def load_webhooks(
    path: Path, *, env: Mapping[str, str] | None = None, need_secrets: bool = False
) -> WebhookConfig:
    """The configuration of `path` (a missing file = no webhooks); `ConfigError` naming file,
    line and key when anything is wrong. `need_secrets`: each endpoint's secret must be set."""
    env = os.environ if env is None else env
    if not path.exists():
        return WebhookConfig()
    data, lines = load_with_lines(path)
    data = {} if data is None else data
    lines.mapping(data, (), _TOP)
    allowed = {h.strip().lower() for h in env.get(ALLOW_HOSTS_ENV, "").split(",") if h.strip()}
    allowed |= {h.lower() for h in _names(data.get("allow_hosts", []), ("allow_hosts",), lines)}
    defaults = _policy(data.get("defaults", {}), ("defaults",), lines)
    endpoints: list[Endpoint] = []
    raw_endpoints = data.get("endpoints", [])
    if not isinstance(raw_endpoints, list):
        raise lines.error(("endpoints",), "must be a list of endpoints")
    for i, raw in enumerate(raw_endpoints):
        where = ("endpoints", i)
        lines.mapping(raw, where, _ENDPOINT)
        for key in ("name", "url", "secret_env"):
            if not isinstance(raw.get(key), str) or not raw[key]:
                raise lines.error((*where, key), "required, a non-empty string")
        if any(e.name == raw["name"] for e in endpoints):
            raise lines.error((*where, "name"), f"endpoint {raw['name']!r} is named twice")
        _check_url(raw["url"], (*where, "url"), lines, frozenset(allowed))
        secret = env.get(raw["secret_env"], "")
        if need_secrets and len(secret) < SECRET_MIN:
            raise lines.error(
                (*where, "secret_env"),
                f"environment variable {raw['secret_env']} "
                f"must hold a secret of at least {SECRET_MIN} characters",
            )
        kinds = _names(raw["kinds"], (*where, "kinds"), lines) if "kinds" in raw else None
        for j, kind in enumerate(kinds or ()):
            if kind not in KINDS:
                raise lines.error((*where, "kinds", j), f"unknown kind; one of {', '.join(KINDS)}")
        queues = _names(raw["queues"], (*where, "queues"), lines) if "queues" in raw else None
        policy = {**defaults, **_policy(raw, where, lines)}
        endpoints.append(
            Endpoint(
                name=raw["name"],
                url=raw["url"],
                secret_env=raw["secret_env"],
                queues=None if queues is None else frozenset(queues),
                kinds=None if kinds is None else frozenset(kinds),
                **policy,
            )
        )
    return WebhookConfig(tuple(endpoints), str(path))


def _check_url(
    url: str, where: tuple[str | int, ...], lines: Lines, allowed: frozenset[str]
) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise lines.error(where, f"must be an http:// or https:// URL, got {url!r}")
    if not parts.hostname:
        raise lines.error(where, f"has no host: {url!r}")
    if parts.username or parts.password:
        raise lines.error(where, "must not carry credentials; the signature authenticates")
    if not host_allowed(parts.hostname, allowed):
        raise lines.error(
            where,
            f"host {parts.hostname!r} is not allowed: add it to allow_hosts"
            f" (or {ALLOW_HOSTS_ENV}); loopback is always allowed",
        )


def _names(raw: Any, where: tuple[str | int, ...], lines: Lines) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(v, str) and v for v in raw):
        raise lines.error(where, "must be a list of non-empty strings")
    return list(raw)


def _number(
    raw: Any,
    where: tuple[str | int, ...],
    lines: Lines,
    *,
    low: float,
    high: float,
    integer: bool = False,
) -> Any:
    ok = isinstance(raw, int | float) and not isinstance(raw, bool) and low <= raw <= high
    if not ok or (integer and not isinstance(raw, int)):
        kind = "an integer" if integer else "a number"
        raise lines.error(where, f"must be {kind} from {low:g} to {high:g}, got {raw!r}")
    return raw


def _policy(raw: Any, where: tuple[str | int, ...], lines: Lines) -> dict[str, Any]:
    """The policy keys present in `raw` (defaults or one endpoint), checked."""
    if where == ("defaults",):
        lines.mapping(raw, where, _POLICY)
    out: dict[str, Any] = {}
    if "max_attempts" in raw:
        out["max_attempts"] = _number(
            raw["max_attempts"], (*where, "max_attempts"), lines, low=1, high=100, integer=True
        )
    if "timeout_seconds" in raw:
        out["timeout_seconds"] = float(
            _number(raw["timeout_seconds"], (*where, "timeout_seconds"), lines, low=0.05, high=60)
        )
    if "backoff" in raw:
        b, at = raw["backoff"], (*where, "backoff")
        lines.mapping(b, at, _BACKOFF)
        base = _number(
            b.get("base_seconds", 10), (*at, "base_seconds"), lines, low=0.01, high=86400
        )
        top = _number(
            b.get("max_seconds", 3600), (*at, "max_seconds"), lines, low=base, high=604800
        )
        jitter = _number(b.get("jitter", 0.5), (*at, "jitter"), lines, low=0, high=1)
        out["backoff"] = Backoff(float(base), float(top), float(jitter))
    return out
