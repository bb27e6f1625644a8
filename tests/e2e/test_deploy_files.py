"""Static checks of deploy/: what can be verified without Docker or a running systemd."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml  # from the dev dependencies (moto needs it)

from pixstash.config import Settings
from tests.e2e.conftest import PIXSTASH
from tests.e2e.nginx import TEMPLATE

DEPLOY = Path(__file__).parents[2] / "deploy"
_TEMPLATE_VARIABLE = re.compile(r"\$\{(PIXSTASH_[A-Z0-9_]+)\}")


def compose() -> dict[str, dict[str, dict[str, object]]]:
    loaded: dict[str, dict[str, dict[str, object]]] = yaml.safe_load(
        (DEPLOY / "docker-compose.yml").read_text()
    )
    return loaded


def test_compose_has_every_service_on_the_documented_urls() -> None:
    services = compose()["services"]
    assert set(services) >= {"app1", "app2", "worker", "nginx", "postgres", "rabbitmq"}
    assert set(services) >= {"redis", "minio"}
    for name in ("app1", "app2", "worker"):
        env = services[name]["environment"]
        assert isinstance(env, dict)
        assert str(env["PIXSTASH_DATABASE_URL"]).startswith("postgresql+psycopg://")
        assert str(env["PIXSTASH_STORAGE_URL"]).startswith("s3://")
        assert "endpoint=http://minio:9000" in str(env["PIXSTASH_STORAGE_URL"])
        assert str(env["PIXSTASH_QUEUE_URL"]).startswith("amqp://")
        assert str(env["PIXSTASH_CACHE_URL"]).startswith("redis://")
        unknown = {k for k in env if k.startswith("PIXSTASH_")} - _setting_names()
        assert not unknown, unknown


def test_compose_nginx_fills_every_template_variable() -> None:
    nginx = compose()["services"]["nginx"]
    env = nginx["environment"]
    assert isinstance(env, dict)
    wanted = set(_TEMPLATE_VARIABLE.findall(TEMPLATE.read_text()))
    assert wanted <= set(env)
    volumes = nginx["volumes"]
    assert isinstance(volumes, list)
    assert "./nginx/pixstash.conf:/etc/nginx/templates/pixstash.conf.template:ro" in volumes
    assert env["PIXSTASH_WEB_1"] == "app1:8000"
    assert env["PIXSTASH_WEB_2"] == "app2:8000"


def test_example_environment_names_real_settings() -> None:
    text = (DEPLOY / "systemd" / "pixstash.env.example").read_text()
    names = set(re.findall(r"^#? ?(PIXSTASH_[A-Z0-9_]+)=", text, re.MULTILINE))
    assert "PIXSTASH_ACCEL_REDIRECT_PREFIX" in names
    assert names <= _setting_names()


def _setting_names() -> set[str]:
    return {f"PIXSTASH_{name.upper()}" for name in Settings.model_fields}


def test_systemd_units_verify(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("!!! SYSTEMD UNITS NOT VERIFIED: systemd-analyze is not installed !!!")
    instances = {"pixstash-web@.service": "8001", "pixstash-worker@.service": "1"}
    paths = []
    for template, instance in instances.items():
        text = (DEPLOY / "systemd" / template).read_text()
        assert "/opt/pixstash/.venv/bin/pixstash" in text
        # the installed path does not exist here: point it at this checkout's executable
        text = text.replace("/opt/pixstash/.venv/bin/pixstash", str(PIXSTASH))
        path = tmp_path / template.replace("@.", f"@{instance}.")
        path.write_text(text)
        paths.append(str(path))
        for option in ("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes"):
            assert option in text
        assert "ReadWritePaths=/var/lib/pixstash" in text
    checked = subprocess.run(
        [analyze, "verify", *paths], capture_output=True, text=True, check=False
    )
    assert checked.returncode == 0, checked.stderr
    assert checked.stderr.strip() == "", checked.stderr
