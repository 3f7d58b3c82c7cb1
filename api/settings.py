"""API settings from `TOUCHPOINT_*` environment variables, validated at start-up."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import NoDecode, SettingsConfigDict

from contracts.requests import SCOPES
from store.config import StoreConfig
from store.counters import DAY

ANY_SCOPE = "*"  # a rate limit for every scope without one of its own


class RateLimit(BaseModel):
    """A token bucket: `burst` requests at once, then `rate` a second."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rate: float = Field(gt=0, description="Tokens added a second.")
    burst: int = Field(ge=1, description="The bucket's size: requests allowed at once.")


class ApiSettings(StoreConfig):
    """HTTP settings on top of the storage settings."""

    model_config = SettingsConfigDict(env_prefix="TOUCHPOINT_", extra="ignore")

    environment: Literal["development", "production", "test"] = Field(
        default="development", description="production refuses to run without API keys."
    )
    host: str = Field(default="127.0.0.1", description="Address `touchpoint serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `touchpoint serve` binds.")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (JSON list or comma-separated)."
    )
    max_body_bytes: int = Field(
        default=1_048_576, ge=1024, description="Larger request bodies get 413."
    )
    business_rules_dir: Path = Field(
        default=Path("rules"),
        validation_alias=AliasChoices("TOUCHPOINT_BUSINESS_RULES_DIR", "TOUCHPOINT_RULES_DIR"),
        description="Business-rule YAML files; changed files are reloaded without a restart "
        "(TOUCHPOINT_RULES_DIR, the old name, is still read).",
    )
    refresh_seconds: float = Field(
        default=2.0, gt=0, description="How often replicas poll for a new live version."
    )
    auth_required: bool | None = Field(
        default=None,
        description="Require API keys; default: required once any key exists, and in production.",
    )
    attribution_days: int = Field(
        default=7,
        ge=1,
        le=90,
        description="What each answer served is kept this long (~360 bytes in Redis per"
        " answer), and a conversion carrying its recommendation_id is credited within it.",
    )
    auth_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="API keys are re-read this often; a revoked key works at most this long.",
    )

    dashboard_session_minutes: int = Field(
        default=480, ge=1, le=7 * 24 * 60, description="A dashboard login lasts this long."
    )
    dashboard_secret: str | None = Field(
        default=None,
        description="Signs dashboard sessions; unset = one random secret kept in Redis and "
        "shared by every replica.",
    )

    key_rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="Per API key and scope (`*`: every scope), e.g. "
        '`{"personalize:read": {"rate": 500, "burst": 1000}}`; none by default.',
    )
    address_rate_limits: dict[str, RateLimit] = Field(
        default_factory=dict,
        description="Per client address and scope (`*`: every scope); none by default.",
    )
    auth_failure_limit: RateLimit | None = Field(
        default=RateLimit(rate=0.2, burst=20),
        description="Failed authentications per client address: past it the address gets 429"
        " (even with a good key, on the replica that saw the failure) until it refills.",
    )

    @field_validator("key_rate_limits", "address_rate_limits")
    @classmethod
    def _known_scopes(cls, value: dict[str, RateLimit]) -> dict[str, RateLimit]:
        unknown = sorted(set(value) - {*SCOPES, ANY_SCOPE})
        if unknown:
            raise ValueError(f"unknown scope {unknown[0]!r}; choose from {', '.join(SCOPES)}, *")
        return value

    @property
    def attribution_seconds(self) -> int:
        """`attribution_days` in seconds: the TTL of what an answer served, and of the
        conversions credited to it."""
        return self.attribution_days * DAY

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        # The environment gives text: a JSON list or `https://a.example,https://b.example`.
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _old_rules_dir_name(self) -> ApiSettings:
        if os.environ.get("TOUCHPOINT_RULES_DIR") and not os.environ.get(
            "TOUCHPOINT_BUSINESS_RULES_DIR"
        ):
            logging.getLogger("touchpoint.api").warning(
                "TOUCHPOINT_RULES_DIR is deprecated; use TOUCHPOINT_BUSINESS_RULES_DIR"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_keys(self) -> ApiSettings:
        if self.environment == "production" and self.auth_required is False:
            raise ValueError("TOUCHPOINT_AUTH_REQUIRED=false is not allowed in production")
        return self
