"""What every archive backend is: the :class:`Archive` protocol, its items and receipts.

The local folder (:mod:`storage.archive`) and the bucket (:mod:`storage.s3`)
both implement :class:`Archive`; they share these types and the digest check
from here, so neither backend imports the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from digitize.errors import ArchiveError
from digitize.i18n import _


@dataclass(frozen=True)
class ArchiveReceipt:
    """What the archive holds under ``key``; ``created`` is False when it was already there."""

    key: str
    sha256: str
    size: int
    uri: str
    created: bool


@dataclass(frozen=True)
class ArchiveItem:
    """One object for :meth:`Archive.put_many`: ``data``, or the file at ``path``, stored under ``key``."""

    key: str
    sha256: str
    data: bytes | None = None
    path: Path | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.path is None):
            raise ValueError(f"the archive item {self.key} needs exactly one of data and path")


@runtime_checkable
class Archive(Protocol):
    """A write-once store of objects addressed by key (local folder, S3 bucket)."""

    def put_file(self, key: str, path: Path, sha256: str) -> ArchiveReceipt:
        """Store the file at ``path`` under ``key``; its SHA-256 must be ``sha256``."""
        ...

    def put_bytes(self, key: str, data: bytes, sha256: str) -> ArchiveReceipt:
        """Store ``data`` under ``key``; its SHA-256 must be ``sha256``."""
        ...

    def put_many(self, items: Iterable[ArchiveItem]) -> list[ArchiveReceipt]:
        """Store several objects (e.g. a document and its manifest), each checked as by ``put_file``/``put_bytes``.

        The receipts, in order, come back only when every object is stored and
        checked. Once a failure is known no further object is sent, and the
        first error is raised; objects stored before it stay (on S3 one may
        already be on its way while an earlier object's check-back runs), so a
        re-run is a no-op for them.
        """
        ...

    def get_bytes(self, key: str) -> bytes:
        """The bytes stored under ``key``; :class:`ArchiveError` if there are none."""
        ...

    def head(self, key: str) -> ArchiveReceipt | None:
        """What is stored under ``key``, or None."""
        ...

    def verify(self, key: str, sha256: str) -> bool:
        """True when the object under ``key`` exists and re-reads with SHA-256 ``sha256``."""
        ...

    def iter_keys(self, prefix: str = "") -> Iterator[str]:
        """Every stored key starting with ``prefix``."""
        ...


def check_digest(key: str, actual: str, expected: str) -> None:
    """Refuse bytes whose SHA-256 ``actual`` is not the ``expected`` one, before anything is archived."""
    if actual != expected:
        raise ArchiveError(
            _("the bytes given for {key} have SHA-256 {actual}, not the expected {expected}; nothing was archived",
              key=key, actual=actual, expected=expected)
        )
