"""Renewal of a B-LTA file: a fresh document timestamp over its validation data.

An archive timestamp proves the file existed while the timestamp authority's
certificate and algorithms were sound; before they expire or weaken, a new one
is added: pyHanko first adds the current revocation data of the last timestamp
to the DSS, then timestamps the whole file again. Each renewal is an
incremental update; the signed bytes are never rewritten.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from digitize.errors import BadInputError, SigningError, TimestampUnavailableError
from digitize.files import write_atomically
from digitize.settings import SigningSettings
from signing.identity import resolve_identity
from signing.verify import _load_roots


@dataclass(frozen=True)
class RenewResult:
    """The renewed file, the SHA-256 of its exact bytes, and how many document timestamps it now has."""

    path: Path
    sha256: str
    document_timestamps: int
    renewed_at: datetime


def renew_timestamp(path: Path, dst: Path, settings: SigningSettings) -> RenewResult:
    """Write ``path`` plus a fresh archive timestamp to ``dst`` (``path`` is not modified).

    Refuses (:class:`SigningError`) a file without a document timestamp (not
    B-LTA) and a set-up without a timestamp authority; a timestamp authority
    that does not answer is retried with backoff, then
    :class:`TimestampUnavailableError` (transient) is raised.
    """
    if not settings.tsa_url:
        raise SigningError("renewing an archive timestamp needs a timestamp authority", hint="set signing.tsa_url")
    if dst.resolve() == path.resolve():
        raise SigningError(f"the renewed file must not replace {path}; give another destination")
    reader = _open_lta(path)
    context = ValidationContext(
        trust_roots=_load_roots(resolve_identity(settings).trust_roots),
        allow_fetching=settings.fetch_revocation,
        revocation_mode=settings.revocation_mode,
        fetcher_backend=RequestsFetcherBackend(per_request_timeout=settings.tsa_timeout_seconds),
    )
    stamper = PdfTimeStamper(RequestsHTTPTimeStamper(settings.tsa_url, timeout=settings.tsa_timeout_seconds))
    data = _with_retries(lambda: _renew_once(stamper, reader, context), settings)
    try:
        write_atomically(dst, data)
    except OSError as e:
        raise SigningError(f"could not write the renewed file {dst}: {e.strerror or e}") from e
    count = len(PdfFileReader(BytesIO(data), strict=False).embedded_timestamp_signatures)
    return RenewResult(dst, hashlib.sha256(data).hexdigest(), count, datetime.now().astimezone())


def _open_lta(path: Path) -> PdfFileReader:
    try:
        reader = PdfFileReader(BytesIO(path.read_bytes()), strict=False)
        stamps = reader.embedded_timestamp_signatures
    except OSError as e:
        raise BadInputError(f"could not read {path}: {e.strerror or e}") from e
    except (PdfError, ValueError, KeyError, TypeError) as e:
        raise BadInputError(f"{path} is not a readable PDF: {e}") from e
    if not stamps:
        raise SigningError(f"{path} has no archive (document) timestamp: it is not PAdES B-LTA",
                           hint="only B-LTA files are renewed; sign at B-LTA")
    return reader


def _renew_once(stamper: PdfTimeStamper, reader: PdfFileReader, context: ValidationContext) -> bytes:
    out = BytesIO()
    try:
        stamper.update_archival_timestamp_chain(reader, context, in_place=False, output=out)
    except TimestampRequestError as e:
        raise TimestampUnavailableError(f"the timestamp authority did not answer: {e}") from e
    except (PyHankoSigningError, PdfError, ValueError, TypeError, KeyError) as e:
        raise SigningError(f"pyHanko could not renew the archive timestamp: {e}") from e
    return out.getvalue()


def _with_retries(action, settings: SigningSettings) -> bytes:
    for attempt in range(settings.tsa_retries + 1):
        try:
            return action()
        except TimestampUnavailableError:
            if attempt == settings.tsa_retries:
                raise
            time.sleep(settings.tsa_backoff_seconds * 2**attempt)
    raise AssertionError("unreachable")
