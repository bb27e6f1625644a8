"""Typed settings from ``PIXSTASH_*`` environment variables and an optional TOML file.

Precedence (highest first): constructor arguments, environment, the TOML file named by
``PIXSTASH_CONFIG_FILE`` (default ``pixstash.toml`` when it exists), defaults.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pixstash.errors import ConfigurationError

DEV_SECRET = "development-only-secret-change-me"  # noqa: S105 (refused in production)
_URI_PATH = re.compile(r"[A-Za-z0-9/_.~-]+")


def _config_file() -> Path | None:
    named = os.environ.get("PIXSTASH_CONFIG_FILE")
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigurationError(f"PIXSTASH_CONFIG_FILE={named} does not exist.")
        return path
    default = Path("pixstash.toml")
    return default if default.is_file() else None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PIXSTASH_", extra="forbid")

    environment: Literal["development", "production", "test"] = "development"
    database_url: str = "sqlite:///var/pixstash.db"
    storage_url: str = "file://./var/blobs"
    queue_url: str = "db://"
    cache_url: str = "memory://"
    secret_key: SecretStr = SecretStr(DEV_SECRET)

    host: str = "127.0.0.1"
    port: int = 8000
    http_workers: int = Field(default=1, ge=1)
    public_url: str | None = Field(
        default=None, description="Base URL of the app as users see it; default: the request's."
    )
    public_media_url: str | None = Field(
        default=None, description="Base URL for media links (CDN or cookieless media domain)."
    )
    accel_redirect_prefix: str = Field(
        default="",
        description="Behind nginx: answer local-disk media with `X-Accel-Redirect: "
        "<prefix><storage key>` and no body (e.g. /_blobs/); empty: send the bytes.",
    )

    max_upload_bytes: int = Field(default=20 * 1024 * 1024, ge=1)
    direct_upload_seconds: int = Field(
        default=900,
        ge=60,
        le=7 * 24 * 3600,
        description="How long a direct upload (POST /api/v1/uploads) may take to start "
        "sending; completing it gets as long again.",
    )
    max_pixels: int = Field(default=50_000_000, ge=1)
    max_files_per_request: int = Field(default=20, ge=1)
    max_decode_bytes: int = Field(
        default=320 * 1024 * 1024,
        ge=1024 * 1024,
        description="Memory one decode may need; progressive JPEGs beyond it are refused.",
    )
    max_frames: int = Field(
        default=1000, ge=1, description="Frames an animation may have (GIF, WebP, APNG)."
    )
    image_engine: Literal["auto", "vips", "pillow"] = Field(
        default="auto",
        description="auto: libvips for still images, Pillow for animations and palettes.",
    )

    job_workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=0)
    cpu_threads: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        description="Threads for image decoding and encoding, off the event loop.",
    )
    job_lease_seconds: float = Field(default=60.0, gt=0)
    job_max_attempts: int = Field(default=5, ge=1)
    job_poll_seconds: float = Field(default=1.0, gt=0)

    media_cache_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    media_cache_item_bytes: int = Field(default=1024 * 1024, ge=0)
    media_cache_ttl_seconds: float = Field(default=30.0, ge=0)

    migrate_on_start: bool = True
    tmp_dir: str | None = Field(default=None, description="Temp files (default ./var/tmp).")
    tmp_max_age_seconds: int = Field(default=3600, ge=0)
    log_level: str = "info"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml = _config_file()
        if toml is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml))
        return tuple(sources)

    @field_validator("public_url", "public_media_url")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("accel_redirect_prefix")
    @classmethod
    def _check_accel_prefix(cls, value: str) -> str:
        segments = value.split("/")
        if value and not (
            len(value) > 2
            and value.startswith("/")
            and value.endswith("/")
            and _URI_PATH.fullmatch(value)
            and "." not in segments
            and ".." not in segments
        ):
            raise ValueError(
                f"PIXSTASH_ACCEL_REDIRECT_PREFIX={value!r} must be a URI path that starts and "
                "ends with '/' (e.g. /_blobs/), matching an internal location of nginx."
            )
        return value

    @model_validator(mode="after")
    def _refuse_default_secret(self) -> Settings:
        if self.environment == "production" and self.secret_key.get_secret_value() == DEV_SECRET:
            raise ValueError(
                "PIXSTASH_SECRET_KEY still has the development default; "
                "set a long random value in production."
            )
        return self

    def masked(self) -> dict[str, Any]:
        """Effective settings with secrets and URL passwords hidden (for `pixstash config`)."""
        values = self.model_dump()
        values["secret_key"] = "**********"  # noqa: S105 (a mask)
        for name in ("database_url", "storage_url", "queue_url", "cache_url"):
            values[name] = mask_url(values[name])
        return values


def mask_url(url: str) -> str:
    """Hide the password of ``scheme://user:password@host``."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest.split("/", 1)[0]:
        return url
    creds, _, host = rest.partition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValueError as exc:
        raise ConfigurationError(f"Invalid configuration: {exc}") from exc
