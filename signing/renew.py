"""Renewal of a B-LTA file: a fresh document timestamp over its validation data.

An archive timestamp proves the file existed while the timestamp authority's
certificate and algorithms were sound; before they expire or weaken, a new one
is added: pyHanko first adds the current revocation data of the last timestamp
to the DSS, then timestamps the whole file again. Each renewal is an
incremental update; the signed bytes are never rewritten.

:func:`renewal_need` says whether a file is due: its newest timestamp keeps it
provable for less than a year (``signing.renew_within_days``), or uses an
algorithm past its configured sunset (``signing.algorithm_sunsets``). A renewal
whose new timestamp would not outlive the old one (the same TSA certificate, or
one that ends sooner) is refused: it would move neither date.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.signers import PdfTimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator import ValidationContext

from digitize.errors import BadInputError, ConfigError, SigningError, TimestampUnavailableError
from digitize.files import write_atomically
from digitize.i18n import _, format_date, os_error
from digitize.settings import SigningSettings
from signing.identity import resolve_identity
from signing.long_term import Longevity, longevity
from signing.report import Check, VerifyReport
from signing.trust import load_trust_roots, validation_context
from signing.tsa import TsaPolicy, timestamper, with_retries


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
    that does not answer is retried with backoff (:func:`signing.tsa.with_retries`),
    then :class:`TimestampUnavailableError` (transient) is raised.
    """
    if not settings.tsa_url:
        raise SigningError(_("renewing an archive timestamp needs a timestamp authority"),
                           hint=_("set signing.tsa_url"))
    if dst.resolve() == path.resolve():
        raise SigningError(_("the renewed file must not replace {path}; give another destination", path=path))
    reader = _open_lta(path)
    roots = load_trust_roots(resolve_identity(settings).trust_roots)
    context = validation_context(roots, fetch=settings.fetch_revocation, revocation_mode=settings.revocation_mode,
                                 timeout=settings.tsa_timeout_seconds)
    stamper = PdfTimeStamper(timestamper(settings))
    data = with_retries(lambda: _renew_once(stamper, reader, context), TsaPolicy.of(settings))
    _refuse_no_gain(path, longevity(reader, roots), longevity(PdfFileReader(BytesIO(data), strict=False), roots),
                    settings.tsa_url)
    try:
        write_atomically(dst, data)
    except OSError as e:
        raise SigningError(_("could not write the renewed file {dst}: {error}", dst=dst, error=os_error(e))) from e
    count = len(PdfFileReader(BytesIO(data), strict=False).embedded_timestamp_signatures)
    return RenewResult(dst, hashlib.sha256(data).hexdigest(), count, datetime.now().astimezone())


def _refuse_no_gain(path: Path, old: Longevity | None, new: Longevity | None, tsa_url: str) -> None:
    """A renewal must push the date the file stays provable until; the same TSA certificate moves nothing."""
    if old is None or new is None or new.provable_until > old.provable_until:
        return
    raise SigningError(
        _("renewing {name} with {tsa_url} would gain nothing: the new timestamp's chain ends {new_end} "
          "({expiring}), no later than the old one's {old_end}",
          name=path.name, tsa_url=tsa_url, new_end=format_date(new.provable_until), expiring=new.expiring,
          old_end=format_date(old.provable_until)),
        hint=_("renew with a timestamp authority whose certificate outlives the old one (signing.tsa_url)"))


#: renew what stays provable for less than this (``signing.renew_within_days``)
#: Checks a renewal cannot change (the visible stamp is part of the signed revision): a file whose stamp
#: falls short of today's rules (signed before them) is still renewed, or its proof would lapse.
FIXED_AT_SIGNING = ("stamp", "stamp_clear")


def renewal_blockers(report: VerifyReport) -> tuple[Check, ...]:
    """The failed checks of a renewed file that must stop its archiving (all but :data:`FIXED_AT_SIGNING`)."""
    return tuple(c for c in report.failed() if c.name not in FIXED_AT_SIGNING)


RENEW_WITHIN = timedelta(days=365)


@dataclass(frozen=True)
class RenewalNeed:
    """Whether a B-LTA file's archive timestamp is due for renewal, and why."""

    due: bool
    reason: str
    provable_until: datetime | None


def renewal_need(
    data: bytes,
    trust_roots: Sequence,
    *,
    now: datetime | None = None,
    within: timedelta = RENEW_WITHIN,
    sunsets: Mapping[str, date] | None = None,
) -> RenewalNeed:
    """Due when the newest timestamp keeps the file provable for less than ``within``, or uses a sunset algorithm.

    ``trust_roots`` are asn1crypto certificates (the chain of the timestamp
    authority is completed from them); ``sunsets`` maps an algorithm name
    (``sha1``, ``rsassa_pkcs1v15``, ...) to the day it is no longer trusted.
    """
    now = now or datetime.now(timezone.utc)
    try:
        life = longevity(PdfFileReader(BytesIO(data), strict=False), trust_roots)
    except (PdfError, ValueError, KeyError, TypeError) as e:
        raise BadInputError(_("the timestamps of the file cannot be read: {error}", error=e)) from e
    if life is None:
        return RenewalNeed(False, _("no timestamp to renew (not PAdES B-LTA)"), None)
    for algorithm in (life.digest_algorithm, life.signature_algorithm):
        sunset = (sunsets or {}).get(algorithm)
        if sunset is not None and now.date() >= sunset:
            return RenewalNeed(True, _("its newest timestamp uses {algorithm}, past its sunset on {day}",
                                       algorithm=algorithm, day=format_date(sunset)), life.provable_until)
    left = life.provable_until - now
    until = format_date(life.provable_until)
    if left <= within:
        return RenewalNeed(True, _("provable only until {day} ({expiring}), less than {days} days from now",
                                   day=until, expiring=life.expiring, days=within.days), life.provable_until)
    return RenewalNeed(False, _("provable until {day}", day=until), life.provable_until)


def parse_sunsets(entries: Sequence[str]) -> dict[str, date]:
    """``("sha1=2020-01-01", ...)`` from ``signing.algorithm_sunsets`` as a mapping; ConfigError if malformed."""
    sunsets = {}
    for entry in entries:
        name, _equals, day = entry.partition("=")
        try:
            sunsets[name.strip().lower()] = date.fromisoformat(day.strip())
        except ValueError as e:
            raise ConfigError(_("signing.algorithm_sunsets: {entry!r} is not 'algorithm=YYYY-MM-DD'",
                                entry=entry)) from e
    return sunsets


def _open_lta(path: Path) -> PdfFileReader:
    try:
        reader = PdfFileReader(BytesIO(path.read_bytes()), strict=False)
        stamps = reader.embedded_timestamp_signatures
    except OSError as e:
        raise BadInputError(_("could not read {path}: {error}", path=path, error=os_error(e))) from e
    except (PdfError, ValueError, KeyError, TypeError) as e:
        raise BadInputError(_("{path} is not a readable PDF: {error}", path=path, error=e)) from e
    if not stamps:
        raise SigningError(_("{path} has no archive (document) timestamp: it is not PAdES B-LTA", path=path),
                           hint=_("only B-LTA files are renewed; sign at B-LTA"))
    return reader


def _renew_once(stamper: PdfTimeStamper, reader: PdfFileReader, context: ValidationContext) -> bytes:
    out = BytesIO()
    try:
        stamper.update_archival_timestamp_chain(reader, context, in_place=False, output=out)
    except TimestampRequestError as e:
        raise TimestampUnavailableError(_("the timestamp authority did not answer: {error}", error=e)) from e
    except (PyHankoSigningError, PdfError, ValueError, TypeError, KeyError) as e:
        raise SigningError(_("pyHanko could not renew the archive timestamp: {error}", error=e)) from e
    return out.getvalue()

