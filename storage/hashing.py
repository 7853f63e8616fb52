"""SHA-256 helpers: the content identity of every input and every archived object."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import BinaryIO

from digitize.errors import BadInputError
from digitize.i18n import _

CHUNK_SIZE = 1024 * 1024
_SHA256 = re.compile(r"[0-9a-f]{64}")


def sha256_bytes(data: bytes) -> str:
    """The lower-case hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


def sha256_stream(stream: BinaryIO) -> str:
    """The lower-case hex SHA-256 of what is left in ``stream``, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK_SIZE):
        digest.update(chunk)
    return digest.hexdigest()


def sha256_file(path: Path) -> str:
    """The lower-case hex SHA-256 of the file at ``path``, streamed in 1 MiB chunks.

    OS errors (missing file, permission) are left to the caller, which knows
    which package error they mean.
    """
    with Path(path).open("rb") as f:
        return sha256_stream(f)


def check_sha256(value: str) -> str:
    """Return ``value`` lower-cased if it is a hex SHA-256 (64 hex digits), else raise."""
    if isinstance(value, str) and _SHA256.fullmatch(value.lower()):
        return value.lower()
    raise BadInputError(_("{value!r} is not a SHA-256 (64 hexadecimal digits)", value=value))
