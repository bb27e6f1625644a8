"""Bucket lifecycle rules (``pixstash storage setup``) against moto's S3."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from pixstash.errors import ConfigurationError, StorageUnavailable
from pixstash.storage.lifecycle import (
    describe_rule,
    incoming_expiry_days,
    install_lifecycle,
    is_ours,
    pixstash_rules,
    read_rules,
)
from pixstash.storage.s3 import S3BlobStore
from tests.s3server import REGION, S3Endpoint

UNRELATED = {
    "ID": "logs-expire-after-90-days",
    "Filter": {"Prefix": "logs/"},
    "Status": "Enabled",
    "Expiration": {"Days": 90},
}


@pytest.fixture
def store(s3_endpoint: S3Endpoint) -> Iterator[S3BlobStore]:
    backend = S3BlobStore(
        s3_endpoint.new_bucket(), "media", endpoint=s3_endpoint.url, region=REGION
    )
    yield backend
    asyncio.run(backend.close())


def rules_by_id(s3_endpoint: S3Endpoint, bucket: str) -> dict[str, dict[str, Any]]:
    answer = s3_endpoint.client.get_bucket_lifecycle_configuration(Bucket=bucket)
    return {rule["ID"]: rule for rule in answer["Rules"]}


def put_rules(s3_endpoint: S3Endpoint, bucket: str, *rules: dict[str, Any]) -> None:
    s3_endpoint.client.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": list(rules)}
    )


def test_installs_three_rules_and_keeps_unrelated_ones(
    s3_endpoint: S3Endpoint, store: S3BlobStore
) -> None:
    stale = {**UNRELATED, "ID": "pixstash-expire-incoming@media", "Filter": {"Prefix": "x/"}}
    other_deployment = {**UNRELATED, "ID": "pixstash-expire-incoming@other"}
    put_rules(s3_endpoint, store.bucket, UNRELATED, stale, other_deployment)

    result = install_lifecycle(store, cold_after_days=45, cold_class="STANDARD_IA")

    rules = rules_by_id(s3_endpoint, store.bucket)
    assert set(rules) == {
        "logs-expire-after-90-days",
        "pixstash-expire-incoming@other",
        "pixstash-abort-incomplete-multipart@media",
        "pixstash-expire-incoming@media",
        "pixstash-cold-originals@media",
    }
    assert rules["logs-expire-after-90-days"]["Filter"] == {"Prefix": "logs/"}
    assert rules["logs-expire-after-90-days"]["Expiration"]["Days"] == 90
    abort = rules["pixstash-abort-incomplete-multipart@media"]
    assert abort["Filter"]["Prefix"] == "media/"
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    incoming = rules["pixstash-expire-incoming@media"]
    assert incoming["Filter"]["Prefix"] == "media/incoming/"
    assert incoming["Expiration"]["Days"] == 1
    cold = rules["pixstash-cold-originals@media"]
    assert cold["Filter"]["Prefix"] == "media/original/"
    assert cold["Transitions"] == [{"Days": 45, "StorageClass": "STANDARD_IA"}]
    assert all(rule["Status"] == "Enabled" for rule in rules.values())
    assert result.replaced == 1
    assert [rule["ID"] for rule in result.kept] == [
        "logs-expire-after-90-days",
        "pixstash-expire-incoming@other",
    ]


def test_running_again_replaces_our_rules_only(s3_endpoint: S3Endpoint, store: S3BlobStore) -> None:
    put_rules(s3_endpoint, store.bucket, UNRELATED)
    install_lifecycle(store, cold_after_days=10, cold_class="GLACIER")
    install_lifecycle(store)  # no --cold-after-days: the transition goes away

    rules = rules_by_id(s3_endpoint, store.bucket)
    assert set(rules) == {
        "logs-expire-after-90-days",
        "pixstash-abort-incomplete-multipart@media",
        "pixstash-expire-incoming@media",
    }


def test_a_bucket_without_rules_and_a_store_without_prefix(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore(s3_endpoint.new_bucket(), endpoint=s3_endpoint.url, region=REGION)
    assert read_rules(store) == []
    install_lifecycle(store)
    rules = rules_by_id(s3_endpoint, store.bucket)
    assert rules["pixstash-abort-incomplete-multipart"]["Filter"]["Prefix"] == ""
    assert rules["pixstash-expire-incoming"]["Filter"]["Prefix"] == "incoming/"


def test_a_missing_bucket_is_our_error(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore("no-such-bucket-here", endpoint=s3_endpoint.url, region=REGION)
    with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
        install_lifecycle(store)


def test_cold_class_and_days_are_checked() -> None:
    with pytest.raises(ConfigurationError, match="Unknown storage class"):
        pixstash_rules("", cold_after_days=40, cold_class="COLD")
    with pytest.raises(ConfigurationError, match="30 day"):
        pixstash_rules("", cold_after_days=7, cold_class="STANDARD_IA")
    glacier = pixstash_rules("p/", cold_after_days=1, cold_class="GLACIER")[-1]
    assert glacier["Transitions"] == [{"Days": 1, "StorageClass": "GLACIER"}]


def test_ownership_is_by_id_and_prefix() -> None:
    assert is_ours({"ID": "pixstash-anything"}, "")
    assert is_ours({"ID": "pixstash-anything@media"}, "media/")
    assert not is_ours({"ID": "pixstash-anything@media"}, "")
    assert not is_ours({"ID": "pixstash-anything"}, "media/")
    assert not is_ours({"ID": "logs"}, "")
    assert not is_ours({}, "")


def test_rules_are_described_for_people() -> None:
    lines = [describe_rule(r) for r in pixstash_rules("m/", cold_after_days=30)]
    assert lines == [
        "abort multipart uploads of objects under 'm/' after 1 day(s)",
        "delete objects under 'm/incoming/' after 1 day(s)",
        "move objects under 'm/original/' to STANDARD_IA after 30 day(s)",
    ]


def test_incoming_objects_live_as_long_as_an_upload_may_be_completed(
    s3_endpoint: S3Endpoint, store: S3BlobStore
) -> None:
    assert incoming_expiry_days(900) == 1  # the default: 15 minutes, and as long again
    assert incoming_expiry_days(24 * 3600) == 2
    assert incoming_expiry_days(7 * 24 * 3600) == 14
    install_lifecycle(store, incoming_days=incoming_expiry_days(3 * 24 * 3600))
    incoming = rules_by_id(s3_endpoint, store.bucket)["pixstash-expire-incoming@media"]
    assert incoming["Expiration"]["Days"] == 6
