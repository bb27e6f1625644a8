"""Typed settings from ``PIXSTASH_*`` environment variables and an optional TOML file.

Precedence (highest first): constructor arguments, environment, the TOML file named by
``PIXSTASH_CONFIG_FILE`` (default ``pixstash.toml`` when it exists), defaults.
"""

from __future__ import annotations

import os
import re
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Any, Literal

from limits import parse_many
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from pixstash.errors import ConfigurationError

DEV_SECRET = "development-only-secret-change-me"  # noqa: S105 (refused in production)
_URI_PATH = re.compile(r"[A-Za-z0-9/_.~-]+")
_ORIGIN = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?|https?://\[[0-9a-f:.]+\](:[0-9]{1,5})?")


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
    scanner_url: str = Field(
        default="none",
        description="Malware scanner for every upload: none, clamd:///path/to/clamd.sock "
        "or clamd://HOST:3310.",
    )
    scanner_timeout_seconds: float = Field(
        default=30.0, gt=0, description="How long one scan may take before it counts as down."
    )
    scanner_fail_open: bool = Field(
        default=False,
        description="With the scanner down: false refuses uploads (503 scanner-unavailable); "
        "true accepts them unscanned and logs a warning.",
    )
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
    hsts_seconds: int = Field(
        default=0,
        ge=0,
        description="Send Strict-Transport-Security: max-age=<this> (e.g. 31536000); needs "
        "an https PIXSTASH_PUBLIC_URL. 0: off.",
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
        description="Memory one decode may need; progressive JPEGs, WebPs and animations "
        "that would need more are refused.",
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

    private_link_seconds: int = Field(
        default=900,
        ge=60,
        le=7 * 24 * 3600,
        description="How long a signed media URL of a private image (/p/...) stays valid; "
        "pages and API answers to the owner make fresh ones.",
    )
    expiry_sweep_seconds: float = Field(
        default=60.0,
        ge=0,
        description="How often each process running job workers deletes expired images "
        "(they are invisible from their expiry on); 0: only `pixstash gc` does.",
    )

    anonymous_uploads: bool = Field(
        default=True,
        description="Accept uploads without an account (with a delete token); false: "
        "anonymous uploads get 401 authentication-required.",
    )
    registration: bool = Field(
        default=True, description="Anyone may create an account at /register."
    )
    session_seconds: int = Field(
        default=14 * 24 * 3600,
        ge=300,
        description="How long a web login lasts (server-side session; logout ends it).",
    )

    url_ingest_connect_seconds: float = Field(
        default=5.0, gt=0, description="URL ingest: time to connect to the linked host."
    )
    url_ingest_total_seconds: float = Field(
        default=30.0, gt=0, description="URL ingest: time for the whole fetch, redirects and body."
    )
    url_ingest_ports: Annotated[list[int], NoDecode] = Field(
        default=[80, 443],
        description="URL ingest: ports links may use (comma-separated).",
    )
    url_ingest_allow_networks: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="URL ingest: networks (CIDR, comma-separated) fetched from although "
        "private or local; for tests and trusted intranets only. Empty: none.",
    )

    rate_limit_anonymous_uploads: str = Field(
        default="50/hour",
        description="Upload requests without an account, per client IP (an IPv6 /64); "
        "limits' syntax (50/hour, 10 per minute); empty: no limit.",
    )
    rate_limit_user_uploads: str = Field(
        default="500/hour", description="Upload requests per user; empty: no limit."
    )
    rate_limit_token_requests: str = Field(
        default="3600/hour",
        description="Every API request with a Bearer token, per token; empty: no limit.",
    )
    rate_limit_client_id_requests: str = Field(
        default="12500/day",
        description="Imgur-compatible API (/3/): requests per Imgur Client-ID (its "
        "X-RateLimit-Client* headers); empty: no limit.",
    )
    rate_limit_ip_requests: str = Field(
        default="2000/hour",
        description="Imgur-compatible API (/3/): requests per client IP with a Client-ID "
        "(its X-RateLimit-User* headers); empty: no limit.",
    )
    rate_limit_logins: str = Field(
        default="20/10 minutes",
        description="Log-in and register attempts per client IP (password guessing); "
        "empty: no limit.",
    )
    rate_limit_on_outage: Literal["allow", "refuse"] = Field(
        default="allow",
        description="With Redis down: allow skips rate limits (warning logged); refuse "
        "answers 503 backend-unavailable.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Proxies (IPs or CIDR, comma-separated) whose X-Forwarded-For is "
        "believed when finding the client IP; empty: the socket peer is the client.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Origins (https://app.example, comma-separated, or *) whose pages may "
        "call the API from a browser; empty: CORS off.",
    )

    imgur_client_ids: Annotated[list[str], NoDecode] = Field(
        default=[],
        description="Imgur-compatible API (/3/): the Client-IDs accepted in "
        "`Authorization: Client-ID <id>` (comma-separated); empty: any Client-ID, so "
        "tools with a built-in Imgur Client-ID work unchanged.",
    )
    view_flush_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How often each server adds the views and bandwidth it counted to the "
        "database (one batched UPDATE; also at shutdown).",
    )

    migrate_on_start: bool = True
    tmp_dir: str | None = Field(default=None, description="Temp files (default ./var/tmp).")
    tmp_max_age_seconds: int = Field(default=3600, ge=0)
    log_level: str = "info"
    log_format: Literal["text", "json"] = Field(
        default="text",
        description="Log lines as text (for people) or json (one object per line, with "
        "request_id; for log shippers).",
    )
    metrics_dir: str | None = Field(
        default=None,
        description="Directory where the processes of one `pixstash serve` or `pixstash "
        "worker` share metrics (wiped at start); default: a fresh temp dir removed at exit.",
    )
    worker_metrics_port: int = Field(
        default=0,
        ge=0,
        le=65535,
        description="`pixstash worker` serves /metrics on PIXSTASH_HOST at this port "
        "(e.g. 9101); 0: off.",
    )

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

    @field_validator(
        "url_ingest_ports",
        "url_ingest_allow_networks",
        "trusted_proxies",
        "cors_origins",
        "imgur_client_ids",
        mode="before",
    )
    @classmethod
    def _split_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    @field_validator("url_ingest_ports")
    @classmethod
    def _check_ports(cls, value: list[int]) -> list[int]:
        if not value or not all(1 <= port <= 65535 for port in value):
            raise ValueError("PIXSTASH_URL_INGEST_PORTS must list ports from 1 to 65535.")
        return value

    @field_validator("url_ingest_allow_networks")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            try:
                ip_network(net, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"PIXSTASH_URL_INGEST_ALLOW_NETWORKS: {net!r} is not a network "
                    "(e.g. 10.0.0.0/8, 127.0.0.1/32)."
                ) from exc
        return value

    @field_validator(
        "rate_limit_anonymous_uploads",
        "rate_limit_user_uploads",
        "rate_limit_token_requests",
        "rate_limit_client_id_requests",
        "rate_limit_ip_requests",
        "rate_limit_logins",
    )
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        value = value.strip()
        try:
            items = parse_many(value) if value else []
        except ValueError:
            items = []
        if value and (len(items) != 1 or items[0].amount < 1):
            raise ValueError(
                f"Invalid rate limit {value!r}: write one limit like '50/hour' or "
                "'10 per minute', or leave it empty for no limit."
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: list[str]) -> list[str]:
        try:
            return [str(ip_network(net, strict=False)) for net in value]
        except ValueError as exc:
            raise ValueError(
                f"PIXSTASH_TRUSTED_PROXIES: {exc} (write IPs or networks like 127.0.0.1, "
                "10.0.0.0/8, ::1)."
            ) from None

    @field_validator("cors_origins")
    @classmethod
    def _check_origins(cls, value: list[str]) -> list[str]:
        origins = [origin.rstrip("/").lower() for origin in value]
        for origin in origins:
            if origin != "*" and not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"PIXSTASH_CORS_ORIGINS: {origin!r} is not an origin; write "
                    "scheme://host[:port] like https://app.example, or *."
                )
        return origins

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
    def _hsts_needs_https(self) -> Settings:
        if self.hsts_seconds and not (self.public_url or "").lower().startswith("https://"):
            raise ValueError(
                "PIXSTASH_HSTS_SECONDS needs PIXSTASH_PUBLIC_URL=https://...: browsers must "
                "reach the app over TLS before they are told to insist on it."
            )
        return self

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
