"""The S3 archive against a real S3 HTTP endpoint (moto's threaded server on 127.0.0.1) through boto3."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from digitize.errors import ArchiveError, ArchiveUnavailableError, BadInputError, is_transient
from storage.archive import open_archive
from storage.backend import Archive
from storage.catalog import Catalog
from storage.fixity import check_fixity
from storage.hashing import sha256_bytes
from storage.s3 import S3Archive
from tests import storage_fixtures
from tests.storage_fixtures import new_bucket, s3_settings, start_s3_endpoint, unique_bucket

s3_endpoint = storage_fixtures.s3_endpoint
s3_credentials = storage_fixtures.s3_credentials
s3_archive = storage_fixtures.s3_archive

KEY = "xa/phuoc-loc/2025/000.31.25.H08-261128-0001/000.31.25.H08-261128-0001-KQ1.pdf"
PDF = b"%PDF-1.7\n% signed bytes of a result\n%%EOF\n"
OTHER = b"%PDF-1.7\n% other bytes\n%%EOF\n"
MIB = 1024 * 1024


def b64_sha256(data: bytes) -> str:
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def big_pdf(size: int) -> bytes:
    return (b"%PDF-1.7\n" + bytes(range(256)) * (size // 256 + 1))[:size]


def versions(archive: S3Archive, key: str) -> list[dict]:
    return archive.client.list_object_versions(Bucket=archive.bucket, Prefix=key).get("Versions", [])


def test_s3_archive_implements_the_archive_protocol(s3_archive):
    assert isinstance(s3_archive, Archive)


def test_put_file_uploads_with_a_sha256_checksum_that_head_reports_back(s3_archive, tmp_path: Path):
    source = tmp_path / "signed.pdf"
    source.write_bytes(PDF)
    receipt = s3_archive.put_file(KEY, source, sha256_bytes(PDF))
    assert (receipt.created, receipt.size, receipt.sha256) == (True, len(PDF), sha256_bytes(PDF))
    assert receipt.uri == f"s3://{s3_archive.bucket}/{KEY}"
    head = s3_archive.client.head_object(Bucket=s3_archive.bucket, Key=KEY, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == b64_sha256(PDF)
    assert head["Metadata"]["sha256"] == sha256_bytes(PDF)
    assert head["ContentType"] == "application/pdf"
    assert s3_archive.get_bytes(KEY) == PDF
    assert s3_archive.verify(KEY, sha256_bytes(PDF))
    assert s3_archive.head(KEY).sha256 == sha256_bytes(PDF)


def test_putting_the_same_bytes_again_is_a_noop(s3_archive):
    s3_archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    again = s3_archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    assert again.created is False and again.sha256 == sha256_bytes(PDF)
    assert list(s3_archive.iter_keys()) == [KEY]


def test_different_bytes_under_an_existing_key_are_refused_and_the_original_kept(s3_archive):
    s3_archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    with pytest.raises(ArchiveError, match="refusing to overwrite") as caught:
        s3_archive.put_bytes(KEY, OTHER, sha256_bytes(OTHER))
    assert not is_transient(caught.value)
    assert s3_archive.get_bytes(KEY) == PDF


def test_a_concurrent_writer_cannot_overwrite_thanks_to_the_conditional_put(s3_archive):
    s3_archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    with pytest.raises(ClientError, match="PreconditionFailed"):
        s3_archive.client.put_object(Bucket=s3_archive.bucket, Key=KEY, Body=OTHER, IfNoneMatch="*")
    assert s3_archive.get_bytes(KEY) == PDF


def test_a_wrong_sha256_is_refused_and_nothing_is_uploaded(s3_archive):
    with pytest.raises(ArchiveError, match="nothing was archived"):
        s3_archive.put_bytes(KEY, PDF, sha256_bytes(OTHER))
    assert s3_archive.head(KEY) is None
    assert list(s3_archive.iter_keys()) == []


def test_a_large_object_goes_in_parts_each_with_its_own_sha256(s3_archive):
    data = big_pdf(12 * MIB)  # threshold 8 MiB, parts of 5 MiB: 3 parts
    receipt = s3_archive.put_bytes(KEY, data, sha256_bytes(data))
    assert receipt.created and receipt.size == len(data)
    part_digests = b"".join(hashlib.sha256(data[i:i + 5 * MIB]).digest() for i in range(0, len(data), 5 * MIB))
    head = s3_archive.client.head_object(Bucket=s3_archive.bucket, Key=KEY, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"].split("-")[0] == base64.b64encode(hashlib.sha256(part_digests).digest()).decode()
    assert head["Metadata"]["sha256"] == sha256_bytes(data)
    assert s3_archive.client.head_object(Bucket=s3_archive.bucket, Key=KEY, PartNumber=1)["PartsCount"] == 3
    assert s3_archive.verify(KEY, sha256_bytes(data))


def test_a_large_object_with_a_wrong_sha256_is_never_completed(s3_archive):
    data = big_pdf(11 * MIB)
    with pytest.raises(ArchiveError, match="nothing was archived"):
        s3_archive.put_bytes(KEY, data, sha256_bytes(PDF))
    assert s3_archive.head(KEY) is None
    assert s3_archive.client.list_multipart_uploads(Bucket=s3_archive.bucket).get("Uploads", []) == []


def test_a_locked_object_cannot_be_deleted(s3_endpoint, s3_credentials):
    settings = s3_settings(s3_endpoint.url, unique_bucket("locked"), object_lock_mode="COMPLIANCE", retention_years=10)
    archive = S3Archive(settings)
    new_bucket(archive, object_lock=True)
    archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    head = archive.client.head_object(Bucket=archive.bucket, Key=KEY)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] > datetime.now(UTC) + timedelta(days=365 * 9)
    with pytest.raises(ClientError, match="AccessDenied"):
        archive.client.delete_object(Bucket=archive.bucket, Key=KEY, VersionId=head["VersionId"])
    assert archive.get_bytes(KEY) == PDF


def test_different_bytes_become_a_new_version_when_versioning_is_chosen(s3_endpoint, s3_credentials):
    archive = S3Archive(s3_settings(s3_endpoint.url, unique_bucket("versioned"), on_conflict="version"))
    new_bucket(archive, versioning=True)
    archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    receipt = archive.put_bytes(KEY, OTHER, sha256_bytes(OTHER))
    assert receipt.created
    assert len(versions(archive, KEY)) == 2
    assert archive.get_bytes(KEY) == OTHER


def test_server_side_encryption_is_requested_when_set(s3_endpoint, s3_credentials):
    archive = S3Archive(s3_settings(s3_endpoint.url, unique_bucket("encrypted"), sse="AES256"))
    new_bucket(archive)
    archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    assert archive.client.head_object(Bucket=archive.bucket, Key=KEY)["ServerSideEncryption"] == "AES256"


@pytest.mark.parametrize("key", ["../etc/passwd", "xa/../../etc/passwd", "/xa/a.pdf", "xa/a b.pdf", "xa\\a.pdf"])
def test_traversal_keys_are_refused_before_any_request(s3_archive, key):
    with pytest.raises(BadInputError):
        s3_archive.put_bytes(key, PDF, sha256_bytes(PDF))
    with pytest.raises(BadInputError):
        s3_archive.get_bytes(key)
    assert list(s3_archive.iter_keys()) == []


def test_missing_objects_have_no_head_do_not_verify_and_cannot_be_read(s3_archive):
    assert s3_archive.head(KEY) is None
    assert not s3_archive.verify(KEY, sha256_bytes(PDF))
    with pytest.raises(ArchiveError, match="nothing is archived"):
        s3_archive.get_bytes(KEY)


def test_iter_keys_lists_by_prefix(s3_archive):
    for key in (KEY, "xa/other/2025/D1/D1-KQ1.pdf", "huyen/h1/2024/D2/D2-HS1.pdf"):
        s3_archive.put_bytes(key, PDF, sha256_bytes(PDF))
    assert list(s3_archive.iter_keys("xa/")) == ["xa/other/2025/D1/D1-KQ1.pdf", KEY]


def test_open_archive_gives_an_s3_archive_for_the_s3_backend(s3_endpoint, s3_credentials):
    archive = open_archive(s3_settings(s3_endpoint.url, "any-bucket"))
    assert isinstance(archive, S3Archive) and archive.bucket == "any-bucket"


def test_an_endpoint_that_is_down_gives_a_transient_error(s3_credentials):
    endpoint = start_s3_endpoint()
    endpoint.stop()
    archive = S3Archive(s3_settings(endpoint.url, "down-bucket", max_attempts=2))
    with pytest.raises(ArchiveUnavailableError) as caught:
        archive.put_bytes(KEY, PDF, sha256_bytes(PDF))
    assert is_transient(caught.value)


def test_an_endpoint_stopped_mid_upload_is_retried_then_fails_cleanly_and_the_catalog_claims_nothing(
    s3_endpoint, s3_credentials, tmp_path
):
    """The part after the first finds the endpoint gone: botocore retries it, then a clean transient error."""
    flaky = start_s3_endpoint()
    archive = S3Archive(s3_settings(flaky.url, unique_bucket("outage"), max_attempts=3))
    new_bucket(archive)
    sends: list[str] = []

    def stop_before_part_two(request, **_):
        sends.append(request.url)
        if "partNumber=2" in request.url and flaky.server._server is not None:  # type: ignore[attr-defined]
            flaky.stop()

    archive.client.meta.events.register("before-send.s3.UploadPart", stop_before_part_two)
    data = big_pdf(12 * MIB)
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        with pytest.raises(ArchiveUnavailableError) as caught:
            archive.put_bytes(KEY, data, sha256_bytes(data))  # the flow records the catalog row only after this
        assert is_transient(caught.value)
        assert sum("partNumber=2" in url for url in sends) == 3  # first try + 2 retries
        assert catalog.documents() == []
        # Seen through the endpoint that stayed up (moto shares its buckets in-process):
        survivor = S3Archive(replace(archive.settings, endpoint_url=s3_endpoint.url))
        assert survivor.head(KEY) is None
        assert check_fixity(survivor, catalog).ok


def test_check_bucket_describes_the_bucket_and_its_object_lock(s3_endpoint, s3_credentials):
    archive = S3Archive(s3_settings(s3_endpoint.url, unique_bucket("doctor"), object_lock_mode="GOVERNANCE",
                                    retention_years=1))
    new_bucket(archive, object_lock=True)
    assert "object lock on" in archive.check_bucket()


def test_check_bucket_refuses_object_lock_settings_on_a_bucket_without_lock(s3_archive):
    locked = S3Archive(replace(s3_archive.settings, object_lock_mode="COMPLIANCE", retention_years=1))
    with pytest.raises(ArchiveError, match="has no object lock"):
        locked.check_bucket()
    assert "object lock off" in s3_archive.check_bucket()


def test_check_bucket_of_a_missing_bucket_is_an_archive_error(s3_endpoint, s3_credentials):
    with pytest.raises(ArchiveError):
        S3Archive(s3_settings(s3_endpoint.url, "no-such-bucket")).check_bucket()
