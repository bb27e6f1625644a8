"""Bucket lifecycle rules for S3 storage: ``pixstash storage setup``.

The bucket then does by itself what ``pixstash gc`` does on local disk: it aborts
multipart uploads left incomplete for a day, expires direct uploads left under
``incoming/`` for a day, and optionally moves originals (kept only for reprocessing) to a
colder storage class after N days.

A bucket has a single lifecycle configuration, shared with whatever else uses the bucket:
the current one is read, the rules this deployment owns are replaced, and every other rule
is written back unchanged. Ours have an ID that starts with ``pixstash-`` and, when the
store has a key prefix, ends with ``@<prefix>``, so deployments sharing a bucket under
different prefixes each manage only their own rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from pixstash.domain.model import INCOMING_PREFIX
from pixstash.errors import ConfigurationError, StorageUnavailable
from pixstash.storage.s3 import S3BlobStore

RULE_PREFIX = "pixstash-"
ORIGINAL_PREFIX = "original/"
INCOMING_EXPIRY_DAYS = 1
ABORT_MULTIPART_DAYS = 1
COLD_CLASSES = (
    "STANDARD_IA",
    "ONEZONE_IA",
    "INTELLIGENT_TIERING",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
)
# AWS refuses a transition to an infrequent-access class before 30 days
_MIN_DAYS = {"STANDARD_IA": 30, "ONEZONE_IA": 30}


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    installed: list[dict[str, Any]]
    kept: list[dict[str, Any]]  # other rules of the bucket, written back unchanged
    replaced: int  # rules of ours that were there before


def rule_id(name: str, prefix: str) -> str:
    owner = prefix.rstrip("/")
    return f"{RULE_PREFIX}{name}@{owner}" if owner else f"{RULE_PREFIX}{name}"


def is_ours(rule: dict[str, Any], prefix: str) -> bool:
    """A rule this deployment (this key prefix) owns, whatever its name."""
    identifier = str(rule.get("ID", ""))
    if not identifier.startswith(RULE_PREFIX):
        return False
    return identifier.partition("@")[2] == prefix.rstrip("/")


def incoming_expiry_days(upload_seconds: int) -> int:
    """Days before the bucket expires ``incoming/`` objects: one, or longer when a direct
    upload may still be completed later (sending may start until it expires, completing
    is accepted for as long again)."""
    return max(INCOMING_EXPIRY_DAYS, math.ceil(2 * upload_seconds / 86400))


def pixstash_rules(
    prefix: str,
    *,
    cold_after_days: int | None = None,
    cold_class: str = "STANDARD_IA",
    incoming_days: int = INCOMING_EXPIRY_DAYS,
) -> list[dict[str, Any]]:
    """The rules for a store whose keys live under ``prefix`` ("" or "some/path/")."""
    rules: list[dict[str, Any]] = [
        {
            "ID": rule_id("abort-incomplete-multipart", prefix),
            "Filter": {"Prefix": prefix},
            "Status": "Enabled",
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": ABORT_MULTIPART_DAYS},
        },
        {
            "ID": rule_id("expire-incoming", prefix),
            "Filter": {"Prefix": prefix + INCOMING_PREFIX},
            "Status": "Enabled",
            "Expiration": {"Days": incoming_days},
        },
    ]
    if cold_after_days is not None:
        if cold_class not in COLD_CLASSES:
            raise ConfigurationError(
                f"Unknown storage class {cold_class!r}; valid: {', '.join(COLD_CLASSES)}"
            )
        minimum = _MIN_DAYS.get(cold_class, 1)
        if cold_after_days < minimum:
            raise ConfigurationError(
                f"S3 moves objects to {cold_class} after {minimum} day(s) at the earliest."
            )
        rules.append(
            {
                "ID": rule_id("cold-originals", prefix),
                "Filter": {"Prefix": prefix + ORIGINAL_PREFIX},
                "Status": "Enabled",
                "Transitions": [{"Days": cold_after_days, "StorageClass": cold_class}],
            }
        )
    return rules


def install_lifecycle(
    store: S3BlobStore,
    *,
    cold_after_days: int | None = None,
    cold_class: str = "STANDARD_IA",
    incoming_days: int = INCOMING_EXPIRY_DAYS,
) -> LifecycleResult:
    """Replace this deployment's rules in the bucket's lifecycle configuration (blocking)."""
    ours = pixstash_rules(
        store.prefix,
        cold_after_days=cold_after_days,
        cold_class=cold_class,
        incoming_days=incoming_days,
    )
    current = read_rules(store)
    kept = [rule for rule in current if not is_ours(rule, store.prefix)]
    try:
        store._client.put_bucket_lifecycle_configuration(
            Bucket=store.bucket, LifecycleConfiguration={"Rules": kept + ours}
        )
    except (ClientError, BotoCoreError) as exc:
        raise bucket_unavailable("set the lifecycle rules of", store.bucket, exc) from exc
    return LifecycleResult(ours, kept, len(current) - len(kept))


def read_rules(store: S3BlobStore) -> list[dict[str, Any]]:
    """The bucket's current lifecycle rules; none is an empty list."""
    try:
        answer = store._client.get_bucket_lifecycle_configuration(Bucket=store.bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise bucket_unavailable("read the lifecycle rules of", store.bucket, exc) from exc
    except BotoCoreError as exc:
        raise bucket_unavailable("read the lifecycle rules of", store.bucket, exc) from exc
    rules: list[dict[str, Any]] = answer.get("Rules", [])
    return rules


def describe_rule(rule: dict[str, Any]) -> str:
    """One line for people: what the rule does to which keys."""
    where = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    target = f"objects under {where!r}" if where else "every object"
    if "AbortIncompleteMultipartUpload" in rule:
        days = rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"]
        return f"abort multipart uploads of {target} after {days} day(s)"
    if "Transitions" in rule:
        steps = ", ".join(
            f"to {t['StorageClass']} after {t.get('Days', '?')} day(s)" for t in rule["Transitions"]
        )
        return f"move {target} {steps}"
    if "Expiration" in rule:
        return f"delete {target} after {rule['Expiration'].get('Days', '?')} day(s)"
    return f"a rule on {target}"


def bucket_unavailable(action: str, bucket: str, exc: Exception) -> StorageUnavailable:
    """Our error for a failed bucket-configuration call (botocore's stays chained)."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        detail = f"{error.get('Code', 'error')}: {error.get('Message', '')}".rstrip(": ")
    else:
        detail = f"{type(exc).__name__}: {exc}"
    return StorageUnavailable(f"Could not {action} bucket {bucket}: {detail}")
