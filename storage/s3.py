"""The S3 archive backend (MinIO, Ceph RGW, AWS) through boto3.

Same rules as :class:`storage.archive.LocalArchive`, plus what a bucket adds:

- the SHA-256 is computed once, in the pass that reads the bytes to send, and
  compared with the one the caller expects before anything is sent; it goes
  with the upload as the S3 ``x-amz-checksum-sha256`` (the server checks the
  bytes it received) and as the ``sha256`` user metadata (the whole-object
  digest, also for multipart objects); the checksum the store echoes in its
  answer to the upload must be the one sent, and after the upload a HEAD must
  report the same checksum and digest back;
- ``put_many`` (a document and its manifest, say) sends the objects one after
  the other and checks each back with its HEAD while the next one is sent; the
  receipts come back only once every HEAD passed;
- above ``multipart_threshold_mb`` the object is sent in parts of
  ``multipart_chunk_mb``, each with its own SHA-256; the HEAD then reports the
  composite checksum (SHA-256 of the part digests);
- write-once: the upload is conditional (``If-None-Match: *``), so an existing
  object is never replaced, even by a concurrent writer; only when the store
  answers 412 is the key looked at. The same bytes again are a no-op; other
  bytes are refused, or stored as a new version when ``on_conflict =
  "version"`` (the bucket must have versioning on). For stores that ignore
  ``If-None-Match`` set ``conditional_writes = false``: a HEAD then comes
  first (a concurrent writer could slip in between);
- object lock (``GOVERNANCE`` or ``COMPLIANCE``, ``retention_years``) and
  server-side encryption as set;
- botocore retries transient failures (``max_attempts``, standard mode); when
  they are used up the error is :class:`ArchiveUnavailableError` (transient).

Credentials come from boto3's standard chain and are never settings.
Only this module imports boto3.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from digitize.errors import ArchiveError, ArchiveUnavailableError, ConfigError
from digitize.i18n import _
from digitize.settings import ArchiveSettings
from storage.backend import ArchiveItem, ArchiveReceipt, check_digest
from storage.hashing import CHUNK_SIZE, check_sha256, sha256_stream
from storage.keys import check_key, check_prefix

MIB = 1024 * 1024
SHA256_METADATA = "sha256"
_DAYS_PER_YEAR = 365.25
# S3 error codes that mean "try again later", not "no".
_TRANSIENT_CODES = {
    "500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown",
    "RequestTimeout", "RequestTimeTooSkewed", "Throttling", "ThrottlingException",
}
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound", "NoSuchVersion"}
# put_many: HEAD checks waiting while later objects are sent.
_CHECKS_IN_FLIGHT = 4


def make_s3_client(settings: ArchiveSettings) -> Any:
    """A boto3 S3 client for ``settings`` (endpoint, region, addressing, retries, timeouts)."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError as e:  # pragma: no cover - boto3 is a dependency
        raise ConfigError(_("the s3 archive backend needs boto3 (pip install boto3)")) from e
    config = Config(
        region_name=settings.region or None,
        # payload_signing_enabled=False: the body is covered by our x-amz-checksum-sha256; botocore
        # would otherwise hash it a second time to sign it on plain-HTTP endpoints (it skips that on HTTPS).
        s3={"addressing_style": settings.addressing_style, "payload_signing_enabled": False},
        retries={"total_max_attempts": settings.max_attempts, "mode": "standard"},
        connect_timeout=settings.connect_timeout_seconds,
        read_timeout=settings.read_timeout_seconds,
        # We send our own SHA-256; no extra CRC computed by botocore.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    return boto3.session.Session().client("s3", endpoint_url=settings.endpoint_url or None, config=config)


class S3Archive:
    """An archive in an S3 bucket, with the same key layout as the local folder."""

    def __init__(self, settings: ArchiveSettings, client: Any | None = None) -> None:
        if not settings.bucket:
            raise ConfigError(_("archive.bucket is required for the s3 backend"))
        self.settings = settings
        self.bucket = settings.bucket
        self.client = client if client is not None else make_s3_client(settings)

    def __repr__(self) -> str:
        return f"S3Archive(bucket={self.bucket!r}, endpoint={self.settings.endpoint_url or 'AWS'!r})"

    # --- the Archive protocol --------------------------------------------------

    def put_file(self, key: str, path: Path, sha256: str) -> ArchiveReceipt:
        """Upload the file at ``path`` under ``key``; its SHA-256 must be ``sha256``."""
        return self._put(ArchiveItem(key, sha256, path=Path(path)))

    def put_bytes(self, key: str, data: bytes, sha256: str) -> ArchiveReceipt:
        """Upload ``data`` under ``key``; its SHA-256 must be ``sha256``."""
        return self._put(ArchiveItem(key, sha256, data=data))

    def put_many(self, items: Iterable[ArchiveItem]) -> list[ArchiveReceipt]:
        """Upload several objects in order, each checked back with a HEAD while the next one is sent.

        The uploads themselves go one at a time, as with ``put_bytes``; only the
        check-back HEADs overlap them (at most ``_CHECKS_IN_FLIGHT`` waiting).
        The receipts, in order, come back only when every HEAD passed. On the
        first failure (upload or check) no further object is sent; the checks
        in flight finish, then the first error in item order is raised, with
        the others as notes. Objects checked before it stay archived.
        """
        receipts: list[ArchiveReceipt] = []
        checks: list[tuple[int, Future[None]]] = []
        failures: list[tuple[int, BaseException]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="s3-check") as checker:
            for index, item in enumerate(items):
                if any(f.done() and f.exception() is not None for _, f in checks):
                    break
                try:
                    receipt, checksum = self._send_item(item)
                except Exception as e:  # noqa: BLE001 - raised below, once the checks in flight are done
                    failures.append((index, e))
                    break
                receipts.append(receipt)
                if checksum is not None:
                    checks.append((index, checker.submit(self._check_back, receipt.key, checksum, receipt.sha256)))
                    _wait_until_at_most(_CHECKS_IN_FLIGHT, [f for _, f in checks])
        failures += [(index, error) for index, f in checks if (error := f.exception()) is not None]
        if failures:
            failures.sort(key=lambda failure: failure[0])
            first = failures[0][1]
            for _, other in failures[1:]:
                first.add_note(f"also failed in the same put_many: {other}")
            raise first
        return receipts

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key``; :class:`ArchiveError` if there are none."""
        key = check_key(key)
        try:
            with self._errors(_("read {key}", key=key)):
                return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except _Missing as e:
            raise ArchiveError(_("nothing is archived under {key}", key=key)) from e

    def head(self, key: str) -> ArchiveReceipt | None:
        """What is stored under ``key`` (from its metadata, without reading it), or None."""
        key = check_key(key)
        found = self._head(key)
        if found is None:
            return None
        return ArchiveReceipt(
            key=key,
            sha256=found.get("Metadata", {}).get(SHA256_METADATA, ""),
            size=int(found.get("ContentLength", 0)),
            uri=self._uri(key),
            created=False,
        )

    def verify(self, key: str, sha256: str) -> bool:
        """True when the object under ``key`` exists and re-reads (downloaded) with SHA-256 ``sha256``."""
        key, expected = check_key(key), check_sha256(sha256)
        digest = hashlib.sha256()
        try:
            with self._errors(_("read {key}", key=key)):
                body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
                for chunk in body.iter_chunks(CHUNK_SIZE):
                    digest.update(chunk)
        except _Missing:
            return False
        return digest.hexdigest() == expected

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with ``prefix``, in S3's (lexicographic) order."""
        check_prefix(prefix)
        with self._errors(_("list the bucket {bucket}", bucket=self.bucket)):
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix)
            for page in pages:
                for item in page.get("Contents", []):
                    yield item["Key"]

    def check_bucket(self) -> str:
        """Reach the bucket (for ``digitize doctor``): a one-line description, or an archive error."""
        try:
            with self._errors(_("reach the bucket")):
                self.client.head_bucket(Bucket=self.bucket)
        except _Missing as e:
            raise ArchiveError(_("the bucket {bucket} does not exist", bucket=self.bucket),
                               hint=_("create it, or set archive.bucket")) from e
        locked = self._object_lock_state() != "off"
        if self.settings.object_lock_mode and not locked:
            raise ArchiveError(
                _("archive.object_lock_mode is {object_lock_mode} but the bucket {bucket} has no object lock",
                  object_lock_mode=self.settings.object_lock_mode, bucket=self.bucket),
                hint=_("create the bucket with object lock enabled, or unset object_lock_mode"),
            )
        lock = _("object lock on") if locked else _("object lock off")
        return _("s3://{bucket} at {endpoint} ({lock})", bucket=self.bucket,
                 endpoint=self.settings.endpoint_url or "AWS", lock=lock)

    def _object_lock_state(self) -> str:
        """``Enabled`` or ``off`` (stores answer a bucket without lock with a 404 or an error code)."""
        try:
            with self._errors(_("read the object lock configuration")):
                config = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ArchiveUnavailableError:
            raise
        except (_Missing, ArchiveError):
            return "off"
        return str(config.get("ObjectLockEnabled", "off"))

    # --- writing -----------------------------------------------------------------

    def _put(self, item: ArchiveItem) -> ArchiveReceipt:
        """Send one object, then check it back."""
        receipt, checksum = self._send_item(item)
        if checksum is not None:
            self._check_back(receipt.key, checksum, receipt.sha256)
        return receipt

    def _send_item(self, item: ArchiveItem) -> tuple[ArchiveReceipt, str | None]:
        """Send one object, not yet checked back: its receipt and the checksum the HEAD must report.

        The checksum is None when nothing was written (the key already held these bytes).
        """
        key, expected = check_key(item.key), check_sha256(item.sha256)
        if item.data is not None:
            return self._send(key, io.BytesIO(item.data), len(item.data), expected)
        path = Path(item.path)  # type: ignore[arg-type] - ArchiveItem holds data or a path
        try:
            source = path.open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as e:
            raise ArchiveError(_("cannot archive {path}: the file does not exist", path=path)) from e
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot read {path} to archive it: {error}", path=path, error=e)) from e
        with source:
            return self._send(key, source, path.stat().st_size, expected)

    def _send(self, key: str, source: BinaryIO, size: int, expected: str) -> tuple[ArchiveReceipt, str | None]:
        # A conditional PUT refuses an existing key by itself (then we look at what is there).
        # Look first without conditional writes, to add a version, or before sending many parts.
        small = size <= self.settings.multipart_threshold_mb * MIB
        if small and self.settings.conditional_writes and self.settings.on_conflict == "refuse":
            return self._upload(key, source, size, expected, only_if_absent=True)
        existing = self._head(key)
        if existing is not None:
            return self._existing(key, source, existing, expected)
        return self._upload(key, source, size, expected, only_if_absent=True)

    def _existing(
        self, key: str, source: BinaryIO, found: dict[str, Any], expected: str
    ) -> tuple[ArchiveReceipt, str | None]:
        """The no-op receipt when ``key`` holds ``expected``; refuse or add a version otherwise."""
        stored = found.get("Metadata", {}).get(SHA256_METADATA, "")
        size = int(found.get("ContentLength", 0))
        if stored == expected:
            check_digest(key, sha256_stream(source), expected)
            return ArchiveReceipt(key=key, sha256=stored, size=size, uri=self._uri(key), created=False), None
        if self.settings.on_conflict == "version":
            source.seek(0)
            return self._upload(key, source, _remaining(source), expected, only_if_absent=False)
        raise ArchiveError(
            _("{key} already holds different content; refusing to overwrite (stored SHA-256 {stored}, new "
              "{expected})",
              key=key, stored=stored or 'unknown', expected=expected),
            hint=_("archived files are never rewritten; file the new version under a new document number"),
        )

    def _upload(
        self, key: str, source: BinaryIO, size: int, expected: str, *, only_if_absent: bool
    ) -> tuple[ArchiveReceipt, str | None]:
        threshold = self.settings.multipart_threshold_mb * MIB
        try:
            if size > threshold:
                checksum = self._multipart(key, source, expected, only_if_absent)
            else:
                checksum = self._single(key, source, expected, only_if_absent)
        except _Conflict as conflict:
            # The key is taken: a re-run, or another writer since our HEAD.
            source.seek(0)
            found = self._head(key)
            if found is None:
                raise ArchiveUnavailableError(
                    _("{key}: the store refused the upload as a conflict, yet has no object", key=key)
                ) from conflict
            return self._existing(key, source, found, expected)
        return ArchiveReceipt(key=key, sha256=expected, size=size, uri=self._uri(key), created=True), checksum

    def _single(self, key: str, source: BinaryIO, expected: str, only_if_absent: bool) -> str:
        """One PUT; returns the base64 SHA-256 checksum sent."""
        data = source.read()
        digest = hashlib.sha256(data)
        check_digest(key, digest.hexdigest(), expected)
        checksum = base64.b64encode(digest.digest()).decode("ascii")
        args = self._object_args(key, expected)
        if only_if_absent:
            args["IfNoneMatch"] = "*"
        with self._errors(_("upload {key}", key=key)):
            sent = self.client.put_object(Body=data, ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, **args)
        _check_echo(key, sent, checksum)
        return checksum

    def _multipart(self, key: str, source: BinaryIO, expected: str, only_if_absent: bool) -> str:
        """A multipart upload with a SHA-256 per part; returns the composite checksum."""
        with self._errors(_("start the upload of {key}", key=key)):
            upload_id = self.client.create_multipart_upload(ChecksumAlgorithm="SHA256", **self._object_args(key, expected))[
                "UploadId"
            ]
        try:
            parts, part_digests = self._send_parts(key, source, expected, upload_id)
            extra = {"IfNoneMatch": "*"} if only_if_absent else {}
            with self._errors(_("finish the upload of {key}", key=key)):
                done = self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}, **extra
                )
        except BaseException as failure:
            self._abort(key, upload_id, failure)
            raise
        composite = hashlib.sha256(b"".join(part_digests)).digest()
        checksum = f"{base64.b64encode(composite).decode('ascii')}-{len(part_digests)}"
        _check_echo(key, done, checksum)
        return checksum

    def _send_parts(
        self, key: str, source: BinaryIO, expected: str, upload_id: str
    ) -> tuple[list[dict[str, Any]], list[bytes]]:
        """Send the parts, ``multipart_concurrency`` at a time; the whole SHA-256 is checked before completing."""
        chunk_size = self.settings.multipart_chunk_mb * MIB
        whole, in_flight, done = hashlib.sha256(), deque(), []
        with ThreadPoolExecutor(max_workers=self.settings.multipart_concurrency) as pool:
            try:
                number = 0
                while chunk := source.read(chunk_size):
                    number += 1
                    whole.update(chunk)
                    in_flight.append(pool.submit(self._send_part, key, upload_id, number, chunk))
                    if len(in_flight) >= self.settings.multipart_concurrency:
                        done.append(in_flight.popleft().result())
                done.extend(f.result() for f in list(in_flight))
            except BaseException:
                for future in in_flight:
                    future.cancel()
                raise
        # Checked before completing: wrong bytes never become an object.
        check_digest(key, whole.hexdigest(), expected)
        return [part for part, _ in done], [digest for _, digest in done]

    def _send_part(self, key: str, upload_id: str, number: int, chunk: bytes) -> tuple[dict[str, Any], bytes]:
        digest = hashlib.sha256(chunk).digest()
        checksum = base64.b64encode(digest).decode("ascii")
        with self._errors(_("upload part {number} of {key}", number=number, key=key)):
            sent = self.client.upload_part(
                Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=chunk,
                ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum,
            )
        return {"ETag": sent["ETag"], "PartNumber": number, "ChecksumSHA256": checksum}, digest

    def _abort(self, key: str, upload_id: str, failure: BaseException) -> None:
        """Abort an unfinished multipart upload; if the store is down too, the bucket's lifecycle rule cleans up."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)
        except Exception as e:  # noqa: BLE001 - the original failure is what the caller must see
            failure.add_note(f"aborting the multipart upload {upload_id} of {key} also failed: {e}")

    def _check_back(self, key: str, checksum: str, expected: str) -> None:
        """HEAD the new object: its checksum and metadata digest must be what was sent."""
        found = self._head(key, checksum=True)
        if found is None:
            raise ArchiveUnavailableError(_("{key} was uploaded but a HEAD does not find it", key=key))
        reported = found.get("ChecksumSHA256")
        stored = found.get("Metadata", {}).get(SHA256_METADATA)
        if not _same_checksum(reported, checksum) or stored != expected:
            raise ArchiveError(
                _("{key}: the store reports checksum {reported} and SHA-256 {stored} after upload, not {checksum} "
                  "and {expected}",
                  key=key, reported=reported, stored=stored, checksum=checksum, expected=expected)
            )

    def _object_args(self, key: str, expected: str) -> dict[str, Any]:
        args: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": key,
            "ContentType": _content_type(key),
            "Metadata": {SHA256_METADATA: expected},
        }
        s = self.settings
        if s.object_lock_mode:
            args["ObjectLockMode"] = s.object_lock_mode
            args["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(days=_DAYS_PER_YEAR * s.retention_years)
        if s.sse:
            args["ServerSideEncryption"] = s.sse
        if s.sse == "aws:kms" and s.sse_kms_key_id:
            args["SSEKMSKeyId"] = s.sse_kms_key_id
        return args

    # --- reading and errors ---------------------------------------------------------

    def _head(self, key: str, *, checksum: bool = False) -> dict[str, Any] | None:
        extra = {"ChecksumMode": "ENABLED"} if checksum else {}
        try:
            with self._errors(_("look up {key}", key=key)):
                return self.client.head_object(Bucket=self.bucket, Key=key, **extra)
        except _Missing:
            return None

    def _uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def _errors(self, action: str) -> _S3Errors:
        return _S3Errors(_("could not {action} in the bucket {bucket}", action=action, bucket=self.bucket))


class _Conflict(Exception):
    """A conditional write found the key taken (HTTP 412)."""


class _Missing(Exception):
    """The key (or bucket object) does not exist (HTTP 404)."""


class _S3Errors:
    """Turn botocore errors into archive errors (transient or not); 404 and 412 into private signals."""

    def __init__(self, context: str) -> None:
        self.context = context

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: object) -> bool:
        if error is None:
            return False
        from botocore import exceptions as b

        if isinstance(error, b.ClientError):
            raise self._client_error(error) from error
        if isinstance(error, (b.NoCredentialsError, b.PartialCredentialsError)):
            raise ConfigError(
                _("{context}: no S3 credentials", context=self.context),
                hint=_("set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or an instance role"),
            ) from error
        if isinstance(error, (b.ConnectionError, b.HTTPClientError, b.ResponseStreamingError)):
            raise ArchiveUnavailableError(_("{context}: the store cannot be reached: {error}",
                                            context=self.context, error=error)) from error
        if isinstance(error, b.BotoCoreError):
            raise ArchiveError(_("{context}: {error}", context=self.context, error=error)) from error
        return False

    def _client_error(self, error: Any) -> BaseException:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = str(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status == "412":
            return _Conflict(code)
        if code in _NOT_FOUND_CODES or status == "404":
            return _Missing(code)
        if code in _TRANSIENT_CODES or status in _TRANSIENT_CODES:
            return ArchiveUnavailableError(_("{context}: the store is unavailable ({code})",
                                             context=self.context, code=code))
        return ArchiveError(_("{context}: {status}: {error}",
                              context=self.context, status=code or status, error=error))


def _wait_until_at_most(limit: int, futures: list[Future[None]]) -> None:
    """Block until no more than ``limit`` of ``futures`` are still running or waiting."""
    while len(pending := [f for f in futures if not f.done()]) > limit:
        wait(pending, return_when=FIRST_COMPLETED)


def _same_checksum(reported: str | None, sent: str) -> bool:
    """A store that reports no checksum passes; some drop the '-<parts>' suffix of a composite one."""
    return reported is None or reported.split("-")[0] == sent.split("-")[0]


def _check_echo(key: str, answer: dict[str, Any], checksum: str) -> None:
    """The checksum the store echoes in its answer to the upload (if any) must be the one sent."""
    echoed = answer.get("ChecksumSHA256")
    if not _same_checksum(echoed, checksum):
        raise ArchiveError(_("{key}: the store answered the upload with checksum {echoed}, not the {checksum} sent",
                             key=key, echoed=echoed, checksum=checksum))


def _remaining(source: BinaryIO) -> int:
    here = source.tell()
    end = source.seek(0, io.SEEK_END)
    source.seek(here)
    return end - here


def _content_type(key: str) -> str:
    if key.endswith(".pdf"):
        return "application/pdf"
    if key.endswith(".json"):
        return "application/json"
    return "application/octet-stream"
