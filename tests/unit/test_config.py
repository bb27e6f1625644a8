from __future__ import annotations

from pathlib import Path

import pytest

from pixstash.config import load_settings, mask_url
from pixstash.errors import ConfigurationError
from pixstash.wiring import build_container


def test_env_overrides_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSTASH_MAX_UPLOAD_BYTES", "1234")
    monkeypatch.setenv("PIXSTASH_JOB_WORKERS", "3")
    settings = load_settings()
    assert settings.max_upload_bytes == 1234
    assert settings.job_workers == 3


def test_toml_file_is_read_and_env_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "pixstash.toml"
    config.write_text('max_pixels = 1000\nport = 9001\npublic_url = "https://pix.example/"\n')
    monkeypatch.setenv("PIXSTASH_CONFIG_FILE", str(config))
    monkeypatch.setenv("PIXSTASH_PORT", "9002")
    settings = load_settings()
    assert settings.max_pixels == 1000
    assert settings.port == 9002
    assert settings.public_url == "https://pix.example"


def test_unknown_setting_in_toml_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "pixstash.toml"
    config.write_text("max_pixel = 1000\n")
    monkeypatch.setenv("PIXSTASH_CONFIG_FILE", str(config))
    with pytest.raises(ConfigurationError, match="max_pixel"):
        load_settings()


def test_default_secret_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIXSTASH_ENVIRONMENT", "production")
    with pytest.raises(ConfigurationError, match="SECRET_KEY"):
        load_settings()
    monkeypatch.setenv("PIXSTASH_SECRET_KEY", "a-long-random-production-secret")
    assert load_settings().environment == "production"


@pytest.mark.parametrize(
    ("field", "url", "valid"),
    [
        ("storage_url", "ftp://x/y", "file://, memory://"),
        ("queue_url", "kafka://x", "db://"),
        ("cache_url", "memcached://x", "memory://"),
        ("database_url", "mysql://x/y", "sqlite:///"),
    ],
)
def test_unknown_scheme_stops_start_up_with_the_valid_list(
    tmp_path: Path, field: str, url: str, valid: str
) -> None:
    base = {"database_url": f"sqlite:///{tmp_path}/x.db", "tmp_dir": str(tmp_path / "t")}
    settings = load_settings(**{**base, field: url})
    with pytest.raises(ConfigurationError) as info:
        build_container(settings)
    assert valid in info.value.message


def test_secrets_are_masked() -> None:
    settings = load_settings(
        secret_key="super-secret-value", database_url="postgresql+psycopg://u:pw@h/db"
    )
    masked = settings.masked()
    assert "super-secret-value" not in str(masked)
    assert masked["database_url"] == "postgresql+psycopg://u:***@h/db"
    assert "super-secret-value" not in repr(settings)
    assert mask_url("amqp://guest:guest@127.0.0.1:5672/") == "amqp://guest:***@127.0.0.1:5672/"


def test_rate_limits_proxies_and_origins_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert defaults.rate_limit_anonymous_uploads == "50/hour"
    assert (defaults.trusted_proxies, defaults.cors_origins) == ([], [])
    monkeypatch.setenv("PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS", " 10 per minute ")
    monkeypatch.setenv("PIXSTASH_RATE_LIMIT_USER_UPLOADS", "")
    monkeypatch.setenv("PIXSTASH_TRUSTED_PROXIES", "127.0.0.1, 10.0.0.0/8,::1")
    monkeypatch.setenv("PIXSTASH_CORS_ORIGINS", "https://App.example/, http://localhost:3000")
    settings = load_settings()
    assert settings.rate_limit_anonymous_uploads == "10 per minute"
    assert settings.rate_limit_user_uploads == ""  # no limit
    assert settings.trusted_proxies == ["127.0.0.1/32", "10.0.0.0/8", "::1/128"]
    assert settings.cors_origins == ["https://app.example", "http://localhost:3000"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PIXSTASH_RATE_LIMIT_ANONYMOUS_UPLOADS", "fast"),
        ("PIXSTASH_RATE_LIMIT_TOKEN_REQUESTS", "0/hour"),
        ("PIXSTASH_RATE_LIMIT_USER_UPLOADS", "1/second;10/hour"),
        ("PIXSTASH_RATE_LIMIT_ON_OUTAGE", "maybe"),
        ("PIXSTASH_TRUSTED_PROXIES", "nginx"),
        ("PIXSTASH_TRUSTED_PROXIES", "10.0.0.0/33"),
        ("PIXSTASH_CORS_ORIGINS", "app.example"),
        ("PIXSTASH_CORS_ORIGINS", "https://app.example/path"),
    ],
)
def test_bad_rate_limit_and_cors_settings_stop_start_up(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError, match=name.removeprefix("PIXSTASH_").lower()):
        load_settings()
