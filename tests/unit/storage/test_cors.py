"""The bucket's CORS rule for browser uploads (``pixstash storage setup``) against moto."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from pixstash.errors import ConfigurationError, StorageUnavailable
from pixstash.storage.cors import describe_cors_rule, install_cors, origin_of, read_cors_rules
from pixstash.storage.s3 import S3BlobStore
from tests.s3server import REGION, S3Endpoint

FOREIGN = {
    "ID": "website-fonts",
    "AllowedOrigins": ["https://www.example.org"],
    "AllowedMethods": ["GET", "HEAD"],
    "AllowedHeaders": ["Range"],
    "ExposeHeaders": ["ETag"],
    "MaxAgeSeconds": 600,
}


@pytest.fixture
def store(s3_endpoint: S3Endpoint) -> Iterator[S3BlobStore]:
    backend = S3BlobStore(
        s3_endpoint.new_bucket(), "media", endpoint=s3_endpoint.url, region=REGION
    )
    yield backend
    asyncio.run(backend.close())


def cors_by_id(s3_endpoint: S3Endpoint, bucket: str) -> dict[str, dict[str, Any]]:
    rules = s3_endpoint.client.get_bucket_cors(Bucket=bucket)["CORSRules"]
    return {rule.get("ID", ""): rule for rule in rules}


def test_installs_the_upload_rule_and_keeps_foreign_ones(
    s3_endpoint: S3Endpoint, store: S3BlobStore
) -> None:
    stale = {**FOREIGN, "ID": "pixstash-direct-upload@media", "AllowedOrigins": ["https://old"]}
    other_deployment = {**FOREIGN, "ID": "pixstash-direct-upload@other"}
    s3_endpoint.client.put_bucket_cors(
        Bucket=store.bucket,
        CORSConfiguration={"CORSRules": [FOREIGN, stale, other_deployment]},
    )

    result = install_cors(store, ["https://img.example.com"])

    rules = cors_by_id(s3_endpoint, store.bucket)
    assert set(rules) == {
        "website-fonts",
        "pixstash-direct-upload@other",
        "pixstash-direct-upload@media",
    }
    assert rules["website-fonts"] == FOREIGN
    ours = rules["pixstash-direct-upload@media"]
    assert ours["AllowedOrigins"] == ["https://img.example.com"]
    assert ours["AllowedMethods"] == ["POST"]
    assert ours["AllowedHeaders"] == ["*"]
    assert ours["MaxAgeSeconds"] == 3600
    assert result.installed == ours
    assert result.replaced == 1
    assert [rule["ID"] for rule in result.kept] == [
        "website-fonts",
        "pixstash-direct-upload@other",
    ]
    assert describe_cors_rule(ours) == "allow POST from https://img.example.com"


def test_running_again_replaces_our_rule_only(s3_endpoint: S3Endpoint, store: S3BlobStore) -> None:
    install_cors(store, ["https://first.example"])
    install_cors(store, ["https://second.example"])
    rules = read_cors_rules(store)
    assert [rule["ID"] for rule in rules] == ["pixstash-direct-upload@media"]
    assert rules[0]["AllowedOrigins"] == ["https://second.example"]


def test_a_bucket_without_cors_and_a_store_without_prefix(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore(s3_endpoint.new_bucket(), endpoint=s3_endpoint.url, region=REGION)
    assert read_cors_rules(store) == []
    install_cors(store, ["http://127.0.0.1:8000"])
    assert set(cors_by_id(s3_endpoint, store.bucket)) == {"pixstash-direct-upload"}


def test_a_missing_bucket_is_our_error(s3_endpoint: S3Endpoint) -> None:
    store = S3BlobStore("no-such-bucket-here", endpoint=s3_endpoint.url, region=REGION)
    with pytest.raises(StorageUnavailable, match="no-such-bucket-here"):
        install_cors(store, ["https://img.example.com"])


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://img.example.com", "https://img.example.com"),
        ("HTTPS://Img.Example.com:443/pix/", "https://img.example.com"),
        ("http://127.0.0.1:8000/sub", "http://127.0.0.1:8000"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_origin_of_a_public_url(url: str, origin: str) -> None:
    assert origin_of(url) == origin


@pytest.mark.parametrize("url", ["img.example.com", "ftp://host", "https://", "http://h:99999"])
def test_origin_of_refuses_what_is_no_web_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        origin_of(url)
