"""``put_many``: several objects (a document and its manifest) in one call, on both backends.

The S3 backend sends the objects one after the other and checks each back with
a HEAD while the next is sent; these tests run against moto's real S3 HTTP
server on 127.0.0.1 and count the requests botocore really sends.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest

from digitize.errors import ArchiveError, is_transient
from storage.archive import LocalArchive
from storage.backend import ArchiveItem
from storage.hashing import sha256_bytes
from storage.s3 import S3Archive
from tests import storage_fixtures

s3_endpoint = storage_fixtures.s3_endpoint
s3_credentials = storage_fixtures.s3_credentials
s3_archive = storage_fixtures.s3_archive

FOLDER = "xa/phuoc-loc/2025/000.31.25.H08-261128-0001"
PDF_KEY = f"{FOLDER}/000.31.25.H08-261128-0001-KQ1.pdf"
PAPER_KEY = f"{FOLDER}/000.31.25.H08-261128-0001-HS1.pdf"
MANIFEST_KEY = f"{FOLDER}/manifest.json"
PDF = b"%PDF-1.7\n% signed bytes of a result\n%%EOF\n"
PAPER = b"%PDF-1.7\n% a dossier paper\n%%EOF\n"
MANIFEST = b'{"dossier_code": "000.31.25.H08-261128-0001"}'
MIB = 1024 * 1024


def item(key: str, data: bytes, sha256: str | None = None) -> ArchiveItem:
    return ArchiveItem(key, sha256 or sha256_bytes(data), data=data)


@pytest.fixture(params=["local", "s3"])
def archive(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "local":
        return LocalArchive(tmp_path / "archive")
    return request.getfixturevalue("s3_archive")


def check_backs(archive: S3Archive) -> list[str]:
    """The keys of every HEAD sent with the checksum mode (a check-back) from now on."""
    names: list[str] = []

    def seen(request, **_):
        if request.headers.get("x-amz-checksum-mode") == b"ENABLED":
            names.append(request.url.rsplit("/", 1)[1])

    archive.client.meta.events.register("before-send.s3.HeadObject", seen)
    return names


def test_put_many_stores_every_item_and_returns_the_receipts_in_order(archive, tmp_path):
    source = tmp_path / "signed.pdf"
    source.write_bytes(PDF)
    receipts = archive.put_many([
        ArchiveItem(PDF_KEY, sha256_bytes(PDF), path=source),
        item(PAPER_KEY, PAPER),
        item(MANIFEST_KEY, MANIFEST),
    ])
    assert [(r.key, r.sha256, r.size, r.created) for r in receipts] == [
        (PDF_KEY, sha256_bytes(PDF), len(PDF), True),
        (PAPER_KEY, sha256_bytes(PAPER), len(PAPER), True),
        (MANIFEST_KEY, sha256_bytes(MANIFEST), len(MANIFEST), True),
    ]
    assert [archive.get_bytes(k) for k in (PDF_KEY, PAPER_KEY, MANIFEST_KEY)] == [PDF, PAPER, MANIFEST]


def test_put_many_again_is_a_noop(archive):
    items = [item(PDF_KEY, PDF), item(MANIFEST_KEY, MANIFEST)]
    archive.put_many(items)
    assert [r.created for r in archive.put_many(items)] == [False, False]


def test_put_many_stops_at_a_wrong_sha256_and_keeps_what_was_stored_before(archive):
    with pytest.raises(ArchiveError, match=f"{PAPER_KEY}.*nothing was archived") as caught:
        archive.put_many([item(PDF_KEY, PDF), item(PAPER_KEY, PAPER, sha256_bytes(PDF)), item(MANIFEST_KEY, MANIFEST)])
    assert not is_transient(caught.value)
    assert archive.head(PDF_KEY).sha256 == sha256_bytes(PDF)
    assert archive.head(PAPER_KEY) is None
    assert archive.head(MANIFEST_KEY) is None  # not sent after the failure


def test_put_many_refuses_different_bytes_under_an_existing_key(archive):
    archive.put_bytes(PAPER_KEY, PAPER, sha256_bytes(PAPER))
    with pytest.raises(ArchiveError, match="refusing to overwrite"):
        archive.put_many([item(PDF_KEY, PDF), item(PAPER_KEY, PDF)])
    assert archive.get_bytes(PAPER_KEY) == PAPER


def test_an_archive_item_holds_either_bytes_or_a_path(tmp_path):
    with pytest.raises(ValueError, match="exactly one of data and path"):
        ArchiveItem(PDF_KEY, sha256_bytes(PDF))
    with pytest.raises(ValueError, match="exactly one of data and path"):
        ArchiveItem(PDF_KEY, sha256_bytes(PDF), data=PDF, path=tmp_path / "x.pdf")


# --- S3: every object checked back with a HEAD ----------------------------------------------


def test_s3_put_many_checks_every_new_object_back_with_a_head(s3_archive):
    big = (b"%PDF-1.7\n" + bytes(range(256)) * (12 * MIB // 256))[: 12 * MIB]  # multipart: 3 parts of 5 MiB
    checked = check_backs(s3_archive)
    receipts = s3_archive.put_many([item(PDF_KEY, PDF), item(PAPER_KEY, big), item(MANIFEST_KEY, MANIFEST)])
    assert [r.created for r in receipts] == [True, True, True]
    assert sorted(checked) == sorted(k.rsplit("/", 1)[1] for k in (PDF_KEY, PAPER_KEY, MANIFEST_KEY))
    head = s3_archive.client.head_object(Bucket=s3_archive.bucket, Key=PAPER_KEY, ChecksumMode="ENABLED")
    assert head["Metadata"]["sha256"] == sha256_bytes(big)


def test_s3_put_many_of_objects_already_there_sends_no_check_back(s3_archive):
    items = [item(PDF_KEY, PDF), item(MANIFEST_KEY, MANIFEST)]
    s3_archive.put_many(items)
    checked = check_backs(s3_archive)
    assert [r.created for r in s3_archive.put_many(items)] == [False, False]
    assert checked == []


def test_s3_put_many_fails_an_object_whose_head_check_fails(s3_archive):
    """The HEAD of the second object reports another digest: put_many raises, naming it, as not transient
    (the flow records a document in the catalog only after put_many returned)."""

    def mark(params, context, **_):
        context["tamper"] = params["url_path"].endswith(PAPER_KEY.rsplit("/", 1)[1])

    def tamper(parsed, context, **_):
        if context.get("tamper"):
            parsed["Metadata"]["sha256"] = sha256_bytes(b"something else")

    s3_archive.client.meta.events.register("before-call.s3.HeadObject", mark)
    s3_archive.client.meta.events.register("after-call.s3.HeadObject", tamper)
    with pytest.raises(ArchiveError, match=f"{PAPER_KEY}: the store reports") as caught:
        s3_archive.put_many([item(PDF_KEY, PDF), item(PAPER_KEY, PAPER)])
    assert not is_transient(caught.value)


def test_s3_put_many_reports_every_failed_check_the_first_one_raised(s3_archive):
    def tamper(parsed, **_):
        parsed["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(b"other").digest()).decode()

    s3_archive.client.meta.events.register("after-call.s3.HeadObject", tamper)
    with pytest.raises(ArchiveError, match=PDF_KEY) as caught:
        s3_archive.put_many([item(PDF_KEY, PDF), item(MANIFEST_KEY, MANIFEST)])
    notes = getattr(caught.value, "__notes__", [])
    assert len(notes) <= 1  # the manifest is sent only if the PDF's check had not failed yet
    assert all(MANIFEST_KEY in note for note in notes)


def test_a_put_answered_with_another_checksum_is_refused(s3_archive):
    def tamper(parsed, **_):
        parsed["ChecksumSHA256"] = base64.b64encode(hashlib.sha256(b"other").digest()).decode()

    s3_archive.client.meta.events.register("after-call.s3.PutObject", tamper)
    with pytest.raises(ArchiveError, match="answered the upload with checksum"):
        s3_archive.put_bytes(PDF_KEY, PDF, sha256_bytes(PDF))
