"""The bucket's CORS rule for browser uploads: ``pixstash storage setup``.

With S3 storage the upload page POSTs each file straight to the bucket (a presigned POST),
from the app's origin to the bucket's: the bucket must allow that origin, or the browser
refuses to send the file (the preflight fails) or to read the answer.

A bucket has a single CORS configuration, shared with whatever else uses the bucket: the
current one is read, the rule this deployment owns is replaced, and every other rule is
written back unchanged. Ours has an ID like the lifecycle rules' (``pixstash-`` and, when
the store has a key prefix, ``@<prefix>``), so deployments sharing a bucket each keep their
own origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from pixstash.errors import ConfigurationError
from pixstash.storage.lifecycle import bucket_unavailable, is_ours, rule_id
from pixstash.storage.s3 import S3BlobStore

PREFLIGHT_CACHE_SECONDS = 3600
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class CorsResult:
    installed: dict[str, Any]
    kept: list[dict[str, Any]]  # other rules of the bucket, written back unchanged
    replaced: int  # rules of ours that were there before


def origin_of(url: str) -> str:
    """The origin a browser sends for pages under ``url``: ``scheme://host[:port]``."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = -1
    if scheme not in _DEFAULT_PORTS or not parts.hostname or port == -1:
        raise ConfigurationError(f"{url!r} is not an http(s) URL with a host.")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    return f"{scheme}://{host}"


def upload_rule(prefix: str, origins: list[str]) -> dict[str, Any]:
    """Browsers on ``origins`` may POST to the bucket (what a presigned POST needs)."""
    return {
        "ID": rule_id("direct-upload", prefix),
        "AllowedOrigins": list(origins),
        "AllowedMethods": ["POST"],
        "AllowedHeaders": ["*"],
        "MaxAgeSeconds": PREFLIGHT_CACHE_SECONDS,
    }


def install_cors(store: S3BlobStore, origins: list[str]) -> CorsResult:
    """Replace this deployment's rule in the bucket's CORS configuration (blocking)."""
    ours = upload_rule(store.prefix, origins)
    current = read_cors_rules(store)
    kept = [rule for rule in current if not is_ours(rule, store.prefix)]
    try:
        store._client.put_bucket_cors(
            Bucket=store.bucket, CORSConfiguration={"CORSRules": [*kept, ours]}
        )
    except (ClientError, BotoCoreError) as exc:
        raise bucket_unavailable("set the CORS rules of", store.bucket, exc) from exc
    return CorsResult(ours, kept, len(current) - len(kept))


def read_cors_rules(store: S3BlobStore) -> list[dict[str, Any]]:
    """The bucket's current CORS rules; none is an empty list."""
    try:
        answer = store._client.get_bucket_cors(Bucket=store.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchCORSConfiguration":
            return []
        raise bucket_unavailable("read the CORS rules of", store.bucket, exc) from exc
    except BotoCoreError as exc:
        raise bucket_unavailable("read the CORS rules of", store.bucket, exc) from exc
    rules: list[dict[str, Any]] = answer.get("CORSRules", [])
    return rules


def describe_cors_rule(rule: dict[str, Any]) -> str:
    """One line for people: which methods from which origins."""
    methods = ", ".join(rule.get("AllowedMethods", [])) or "nothing"
    origins = ", ".join(rule.get("AllowedOrigins", [])) or "no origin"
    return f"allow {methods} from {origins}"
