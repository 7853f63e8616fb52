"""Archive backends: where the exact signed bytes are kept, never rewritten.

:class:`storage.backend.Archive` is the interface the pipeline uses (with its
items and receipts); :class:`LocalArchive` is the embedded default, a folder
laid out exactly like the bucket (the key is the relative path);
:class:`storage.s3.S3Archive` keeps the same protocol in a bucket;
:func:`open_archive` opens the one the settings name.

Rules every backend keeps:

- the SHA-256 the caller passes is checked against the bytes actually stored;
- the same bytes under the same key is a no-op (``created=False``);
- different bytes under an existing key are refused, never overwritten;
- outages (disk, network) raise :class:`ArchiveUnavailableError` (transient),
  refusals raise :class:`ArchiveError`.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from digitize.errors import (
    ArchiveError,
    ArchiveUnavailableError,
    BadInputError,
    ConfigError,
)
from digitize.i18n import _
from digitize.settings import ArchiveSettings
from storage.backend import Archive, ArchiveItem, ArchiveReceipt, check_digest
from storage.hashing import CHUNK_SIZE, check_sha256, sha256_stream
from storage.keys import check_key, check_prefix
from storage.s3 import S3Archive

READ_ONLY = 0o444
_NOT_THERE = (FileNotFoundError, NotADirectoryError, IsADirectoryError)
# link() not supported by the file system: fall back to a rename (see _publish).
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK}


def open_archive(settings: ArchiveSettings) -> Archive:
    """The archive backend named by ``settings.backend``: ``local`` (a folder) or ``s3`` (a bucket)."""
    if settings.backend == "local":
        return LocalArchive(settings.root)
    if settings.backend == "s3":
        return S3Archive(settings)
    raise ConfigError(_("archive backend {backend!r} is not supported; use 'local' or 's3'", backend=settings.backend))


def describe_archive(settings: ArchiveSettings) -> str:
    """Where the archive keeps signed files, for a person: the folder, or the bucket and its endpoint."""
    if settings.backend == "s3":
        return _("S3 bucket {bucket} at {endpoint}", bucket=settings.bucket,
                 endpoint=settings.endpoint_url or "AWS")
    return str(settings.root)


def _put_item(archive: Archive, item: ArchiveItem) -> ArchiveReceipt:
    """``put_file`` or ``put_bytes``, as the item holds a path or bytes."""
    if item.path is not None:
        return archive.put_file(item.key, item.path, item.sha256)
    assert item.data is not None  # ArchiveItem holds one of the two
    return archive.put_bytes(item.key, item.data, item.sha256)


class LocalArchive:
    """An archive in a local folder, laid out like the bucket (key = relative path).

    Writes are atomic and durable: a temporary file in the target folder is
    written, fsynced, made read-only (0o444) and then published under its final
    name without ever replacing an existing file; the folder is fsynced after.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()

    def __repr__(self) -> str:
        return f"LocalArchive({str(self.root)!r})"

    def put_file(self, key: str, path: Path, sha256: str) -> ArchiveReceipt:
        """Store the file at ``path`` under ``key``; its SHA-256 must be ``sha256``."""
        key, expected = check_key(key), check_sha256(sha256)
        try:
            source = Path(path).open("rb")
        except _NOT_THERE as e:
            raise ArchiveError(_("cannot archive {path}: the file does not exist", path=path)) from e
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot read {path} to archive it: {error}", path=path, error=e)) from e
        with source:
            return self._put(key, source, expected)

    def put_bytes(self, key: str, data: bytes, sha256: str) -> ArchiveReceipt:
        """Store ``data`` under ``key``; its SHA-256 must be ``sha256``."""
        key, expected = check_key(key), check_sha256(sha256)
        return self._put(key, io.BytesIO(data), expected)

    def put_many(self, items: Iterable[ArchiveItem]) -> list[ArchiveReceipt]:
        """Store the items one after the other; the first failure stops the rest and is raised."""
        return [_put_item(self, item) for item in items]

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key``; :class:`ArchiveError` if there are none."""
        path = self._path(key)
        try:
            return path.read_bytes()
        except _NOT_THERE as e:
            raise ArchiveError(_("nothing is archived under {key}", key=key)) from e
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot read {key} from the archive at {root}: {error}",
                                            key=key, root=self.root, error=e)) from e

    def head(self, key: str) -> ArchiveReceipt | None:
        """What is stored under ``key`` (hashed again from disk), or None."""
        path = self._path(key)
        try:
            with path.open("rb") as f:
                digest, size = sha256_stream(f), os.fstat(f.fileno()).st_size
        except _NOT_THERE:
            return None
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot read {key} from the archive at {root}: {error}",
                                            key=key, root=self.root, error=e)) from e
        return ArchiveReceipt(key=key, sha256=digest, size=size, uri=path.as_uri(), created=False)

    def verify(self, key: str, sha256: str) -> bool:
        """True when the object under ``key`` exists and re-reads with SHA-256 ``sha256``."""
        expected = check_sha256(sha256)
        receipt = self.head(key)
        return receipt is not None and receipt.sha256 == expected

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with ``prefix``, in a stable (sorted per folder) order."""
        check_prefix(prefix)
        start = self.root.joinpath(*prefix.rpartition("/")[0].split("/")) if "/" in prefix else self.root
        if not start.is_dir():
            return
        try:
            yield from self._walk(start, prefix)
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot list the archive at {root}: {error}", root=self.root,
                                            error=e)) from e

    def _walk(self, start: Path, prefix: str) -> Iterator[str]:
        def fail(error: OSError) -> None:
            raise error

        for folder, subfolders, files in os.walk(start, onerror=fail):
            subfolders[:] = sorted(d for d in subfolders if not d.startswith("."))
            base = Path(folder).relative_to(self.root).as_posix()
            for name in sorted(files):
                key = name if base == "." else f"{base}/{name}"
                # '.'-led names are temporary files of writes in progress.
                if not name.startswith(".") and key.startswith(prefix):
                    yield key

    def _path(self, key: str) -> Path:
        path = self.root.joinpath(*check_key(key).split("/"))
        # check_key already refuses '..'; this also refuses a symlink leading out of the root.
        if not path.resolve().is_relative_to(self.root):
            raise BadInputError(_("archive key {key!r} leads outside the archive at {root}", key=key, root=self.root))
        return path

    def _put(self, key: str, source: BinaryIO, expected: str) -> ArchiveReceipt:
        target = self._path(key)
        try:
            if target.is_dir():
                raise ArchiveError(_("{key} names a folder of the archive, not a file", key=key))
            if target.exists():
                check_digest(key, sha256_stream(source), expected)
                return self._existing(key, target, expected)
            return self._write_new(key, target, source, expected)
        except OSError as e:
            raise ArchiveUnavailableError(_("cannot write {key} to the archive at {root}: {error}",
                                            key=key, root=self.root, error=e)) from e

    def _write_new(self, key: str, target: Path, source: BinaryIO, expected: str) -> ArchiveReceipt:
        _make_folders(target.parent)
        temp, size = _write_temp(key, target, source, expected)
        try:
            published = _publish(temp, target)
        finally:
            temp.unlink(missing_ok=True)
        if not published:  # another writer got there first
            return self._existing(key, target, expected)
        _fsync_folder(target.parent)
        return ArchiveReceipt(key=key, sha256=expected, size=size, uri=target.as_uri(), created=True)

    def _existing(self, key: str, target: Path, expected: str) -> ArchiveReceipt:
        """The no-op receipt when ``target`` holds ``expected``; refuse otherwise."""
        with target.open("rb") as f:
            stored, size = sha256_stream(f), os.fstat(f.fileno()).st_size
        if stored != expected:
            raise ArchiveError(
                _("{key} already holds different content; refusing to overwrite (stored SHA-256 {stored}, new "
                  "{expected})",
                  key=key, stored=stored, expected=expected),
                hint=_("archived files are never rewritten; file the new version under a new document number"),
            )
        return ArchiveReceipt(key=key, sha256=stored, size=size, uri=target.as_uri(), created=False)


def _write_temp(key: str, target: Path, source: BinaryIO, expected: str) -> tuple[Path, int]:
    """Copy ``source`` into a read-only, fsynced temporary file beside ``target``."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    temp = Path(name)
    try:
        with os.fdopen(fd, "wb") as out:
            digest, size = _copy(source, out)
            out.flush()
            os.fchmod(out.fileno(), READ_ONLY)
            os.fsync(out.fileno())
        check_digest(key, digest, expected)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return temp, size


def _copy(source: BinaryIO, out: BinaryIO) -> tuple[str, int]:
    """Copy ``source`` to ``out``, returning the SHA-256 and size of what was written."""
    digest, size = hashlib.sha256(), 0
    while chunk := source.read(CHUNK_SIZE):
        out.write(chunk)
        digest.update(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def _publish(temp: Path, target: Path) -> bool:
    """Give ``temp`` the name ``target`` unless ``target`` exists; False if it does.

    A hard link is an atomic rename that never replaces an existing file
    (``rename`` would silently overwrite one written meanwhile by another worker).
    On file systems without hard links we fall back to a checked rename.
    """
    try:
        os.link(temp, target)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        if e.errno not in _NO_HARD_LINKS:
            raise
    if target.exists():
        return False
    os.rename(temp, target)
    return True


def _make_folders(folder: Path) -> None:
    """Create ``folder`` and missing parents, fsyncing each parent so the entries survive a crash."""
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        try:
            path.mkdir()
        except FileExistsError:
            continue
        _fsync_folder(path.parent)


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
