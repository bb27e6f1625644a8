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
