"""Where Touchpoint's data and Redis live; read from `TOUCHPOINT_*` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class StoreConfig(BaseSettings):
    """Storage settings shared by the jobs and the API."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Data directory: tables, models, embedded Redis files."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis://, rediss:// or unix:// URL, or redis+cluster://host:port[,host:port…] "
        "for Redis Cluster (`store.cluster`); unset = start an embedded redis-server.",
    )
    redis_appendfsync: Literal["always", "everysec", "no"] = Field(
        default="everysec",
        description="The embedded server's append-only-file fsync policy, applied when it "
        "starts: `everysec` can lose the last second of writes if the machine (not just "
        "redis-server) crashes; `always` loses none and costs write throughput.",
    )
    namespace: str = Field(default="tp", description="Prefix of every Redis key.")
    version_ttl_seconds: int = Field(
        default=30 * 24 * 3600,
        ge=3600,
        description="Published data expires this long after its batch unless a newer one "
        "replaces it.",
    )
    keep_versions: int = Field(
        default=3,
        ge=1,
        description="Versions kept per artifact for rollback (the live one included).",
    )

    @field_validator("redis_url")
    @classmethod
    def _check_url(cls, url: str | None) -> str | None:
        if url in (None, ""):
            return None
        assert url is not None
        if not url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://")):
            raise ValueError("must start with redis://, rediss://, unix:// or redis+cluster://")
        return url

    @field_validator("namespace")
    @classmethod
    def _check_namespace(cls, ns: str) -> str:
        if not ns or any(ch in ns for ch in " {}:"):
            raise ValueError("must be non-empty, without spaces, braces or colons")
        return ns
