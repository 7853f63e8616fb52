"""Verification of signed files: a report of named checks, never an exception for a bad signature.

pyHanko's verdicts each see one side of the truth: an incremental edit after
signing still passes the cryptographic and trust checks and is caught only by
the modification analysis; an expired signer is the reverse. So every aspect is
reported as its own check, and the report is ok only when all of them are:

========================  ========================================================
``signed``                the file carries a signature (field named)
``integrity``             the digest of the signed bytes matches
``cryptography``          the signature value matches the signer's key
``trust``                 the signer chains to the trust roots, valid now or (B-LTA, AdES) at a proven time
``revocation``            the signer is not revoked (OCSP/CRL embedded or fetched)
``timestamps``            every signature and document timestamp is intact and valid, the newest trusted now
``pades_level``           the PAdES baseline level reached, against the level required
``modifications``         nothing but validation data and timestamps was added after signing
``coverage``              the signature covers the whole file (or its revision plus those); nothing after the last revision
``renewal``               until when the newest timestamp keeps the file provable (fails once past)
``stamp``                 the Decree 30/2020 visible form (:mod:`signing.stamp_check`)
``pdfa``                  the file is still PDF/A-2b (:mod:`signing.pdfa_check`)
``archive_sha256``        the file's SHA-256 is the one recorded (when one is known)
========================  ========================================================

The look at the bytes the signature leaves out (its ``/Contents`` and the certificates it
carries) is :mod:`signing.integrity`; the timestamps' verdicts and the level reached,
:mod:`signing.timestamp_check`.

A failed check is either a proof that something is wrong, or ``indeterminate``
(data needed now is missing, and the detail says what would resolve it); the
report's ``outcome`` is ``valid``, ``invalid`` or ``indeterminate`` accordingly.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from io import BytesIO
from pathlib import Path

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from digitize import i18n
from digitize.errors import VerificationError
from digitize.i18n import _, os_error
from digitize.models import PADES_LEVELS
from signing.diff_policy import STRICT_DIFF_POLICY
from signing.integrity import hole_problem
from signing.long_term import dss_damage, long_term_verdict, longevity, quiet_pyhanko_logs
from signing.pdfa_check import check_signed_pdfa
from signing.report import Check, VerifyReport
from signing.stamp_check import stamp_checks
from signing.timestamp_check import (
    PADES_SUBFILTER,
    dss_has_revinfo,
    moment,
    names_revocation_sources,
    pades_level_check,
    pades_level_reached,
    signature_timestamp,
    timestamp_verdict,
    timestamps_check,
)
from signing.trust import common_name, load_trust_roots, validation_context

CHECK_NAMES = (
    "signed", "integrity", "cryptography", "trust", "revocation", "timestamps",
    "pades_level", "modifications", "coverage",
)
# LTA_UPDATES (DSS, document timestamps, and the writer's own date/producer
# fields under the strict diff policy) is accepted only where the file has
# validation data or document timestamps to justify later revisions; a B-B file must have none.
_NO_CHANGE = (ModificationLevel.NONE,)
_LTA_CHANGES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
# what a damaged signature or PDF structure raises inside pyHanko and asn1crypto
# (a damaged CMS blob can even surface as an AttributeError inside pyHanko)
_VALIDATION_ERRORS = (SignatureValidationError, PdfError, ValueError, TypeError, KeyError, IndexError, AttributeError)

ContextFactory = Callable[[], ValidationContext]
#: the revocation mode of the structural validation of a file without document timestamps
_STRUCTURAL_MODE = "soft-fail"


def stricter_level(*levels: str | None) -> str:
    """The highest of the PAdES levels given (None and unknown names count as B-B)."""
    known = [PADES_LEVELS.index(level) for level in levels if level in PADES_LEVELS]
    return PADES_LEVELS[max(known, default=0)]


def validation_context_for(
    trust_roots: Sequence[Path],
    *,
    moment: datetime | None = None,
    fetch_revocation: bool = False,
    revocation_mode: str = "soft-fail",
    fetch_timeout: float = 10.0,
) -> ValidationContext:
    """A ValidationContext trusting ``trust_roots`` (PEM or DER files)."""
    return validation_context(load_trust_roots(trust_roots), fetch=fetch_revocation, revocation_mode=revocation_mode,
                              timeout=fetch_timeout, moment=moment)


def verify_pdf(
    path: Path,
    trust_roots: Sequence[Path],
    *,
    expected_sha256: str | None = None,
    min_pades_level: str = "B-B",
    context_factory: ContextFactory | None = None,
    fetch_revocation: bool = False,
    revocation_mode: str = "soft-fail",
    fetch_timeout: float = 10.0,
    agency_name: str | None = None,
    check_pdfa: bool = True,
    algorithm_sunsets: Mapping[str, date] | None = None,
    validated_pdfa_sha256: str | None = None,
) -> VerifyReport:
    """Check every signature and timestamp of ``path``, its stamp, PDF/A and, if given, its SHA-256.

    Returns a report (bad signatures are failing checks; ``report.outcome`` is
    valid, invalid or indeterminate); raises :class:`VerificationError` only
    when the file cannot be read at all. The validation data embedded in the
    file is used first; OCSP/CRL are fetched online only to resolve an
    indeterminate result, and only with ``fetch_revocation``. A B-LTA
    signature is validated long-term (:mod:`signing.long_term`).
    ``context_factory`` replaces the validation context of the other checks
    (e.g. a fixed time). ``agency_name``, if given, must be the agency named in the stamp.
    ``algorithm_sunsets`` (algorithm name to the day it is no longer trusted)
    fails the ``renewal`` check of a file whose newest timestamp uses one past it.
    ``validated_pdfa_sha256``, the SHA-256 of the PDF/A as it passed validation when
    it was written, spares validating that PDF/A again when the file's unsigned
    revision is exactly those bytes (:func:`signing.pdfa_check.check_signed_pdfa`);
    a file from elsewhere gets the full validation.
    """
    quiet_pyhanko_logs()
    data = _read(path)
    reader = _open(data, path)
    roots = load_trust_roots(trust_roots)
    trust = _TrustSettings(roots, fetch_revocation, revocation_mode, fetch_timeout, context_factory,
                           dict(algorithm_sunsets or {}))
    # the other checks need no revocation verdict: trust and revocation have their own checks, and for
    # B-LTA the timestamps' revocation is judged long-term (a stale embedded CRL is not a broken timestamp)
    structural_mode = "none" if _has_document_timestamps(reader) else _STRUCTURAL_MODE
    make_context = context_factory or _context_factory(reader, roots, False, structural_mode, fetch_timeout)
    checks = _signature_checks(reader, make_context, trust, min_pades_level, data)
    checks.extend(stamp_checks(data, agency_name=agency_name))
    if check_pdfa:
        checks.append(check_signed_pdfa(data, validated_sha256=validated_pdfa_sha256))
    if expected_sha256 is not None:
        checks.append(sha256_check(data, expected_sha256))
    return VerifyReport(path=path, checks=tuple(checks))


def _has_document_timestamps(reader: PdfFileReader) -> bool:
    try:
        return bool(reader.embedded_timestamp_signatures)
    except _VALIDATION_ERRORS:
        return False


def _context_factory(reader: PdfFileReader, roots: list, fetch: bool, mode: str, timeout: float) -> ContextFactory:
    """Contexts preloaded with the file's DSS (certificates, OCSP responses, CRLs), if it has one."""
    dss = _read_dss(reader)

    def make() -> ValidationContext:
        return validation_context(roots, fetch=fetch, revocation_mode=mode, timeout=timeout, dss=dss)

    return make


def _read_dss(reader: PdfFileReader) -> DocumentSecurityStore | None:
    try:
        return DocumentSecurityStore.read_dss(reader)
    except (*_VALIDATION_ERRORS, NotImplementedError):
        return None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise VerificationError(_("could not read {path}: {error}", path=path, error=os_error(e))) from e


def _open(data: bytes, path: Path) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(data), strict=False)
    except _VALIDATION_ERRORS as e:
        raise VerificationError(_("{path} is not a readable PDF: {error}", path=path, error=e)) from e


# --- per signature -------------------------------------------------------------------


@dataclass(frozen=True)
class _Outcome:
    checks: list[Check]
    timestamps: list[tuple[bool, str]]


@dataclass(frozen=True)
class _TrustSettings:
    roots: list
    fetch: bool
    mode: str
    timeout: float
    context_factory: ContextFactory | None
    sunsets: dict


def _signature_checks(reader: PdfFileReader, make_context: ContextFactory, trust: _TrustSettings,
                      min_level: str, data: bytes) -> list[Check]:
    try:
        signatures = reader.embedded_regular_signatures
    except _VALIDATION_ERRORS as e:
        return _all_failed(_("the signature fields cannot be read: {error}", error=e))
    if not signatures:
        return _all_failed(_("the file carries no signature"))
    outcomes = [_checks_for(sig, reader, make_context, trust, min_level, data) for sig in signatures]
    names = [sig.field_name for sig in signatures]
    combined = [_combine(i, [o.checks for o in outcomes], names) for i in range(len(CHECK_NAMES))]
    stamps = [t for o in outcomes for t in o.timestamps] + _document_timestamps(reader, make_context)
    index = CHECK_NAMES.index("timestamps")
    combined[index] = timestamps_check(stamps)
    combined.append(_renewal_check(reader, trust.roots, trust.sunsets))
    return combined


def _all_failed(reason: str) -> list[Check]:
    first = Check("signed", False, reason)
    return [first, *(Check(name, False, _("no signature to check")) for name in CHECK_NAMES[1:])]


def _combine(index: int, per_signature: list[list[Check]], names: list[str]) -> Check:
    """One check from the same check of every signature (prefixed by field name if several)."""
    checks = [checks[index] for checks in per_signature]
    if len(checks) == 1:
        return checks[0]
    detail = "; ".join(f"{name}: {c.detail}" for name, c in zip(names, checks, strict=True))
    ok = all(c.ok for c in checks)
    return Check(checks[0].name, ok, detail, indeterminate=not ok and all(c.ok or c.indeterminate for c in checks))


def _checks_for(
    sig: EmbeddedPdfSignature,
    reader: PdfFileReader,
    make_context: ContextFactory,
    trust: _TrustSettings,
    min_level: str,
    data: bytes,
) -> _Outcome:
    signed = Check("signed", True, _("signature field {field}", field=sig.field_name))
    validations = _validate(sig, reader, make_context, trust)
    status = validations.structure
    if isinstance(status, Exception):
        reason = _("the signature could not be validated: {error}", error=status)
        return _Outcome([signed, *(Check(name, False, reason) for name in CHECK_NAMES[1:])], [])
    allowed = _LTA_CHANGES if _has_validation_updates(reader) else _NO_CHANGE
    trust_check, revocation_check = _trust_checks(sig, reader, validations, trust)
    checks = [
        signed,
        _integrity(status, hole_problem(sig, data, trust.roots)),
        _cryptography(status),
        trust_check,
        revocation_check,
        Check("timestamps", True, ""),  # replaced by the file-wide check
        pades_level_check(sig, status, reader, min_level),
        _modifications(status, allowed, dss_damage(reader)),
        _coverage(status, allowed, _appended_bytes(reader, data)),
    ]
    covered = _has_document_timestamps(reader)
    return _Outcome(checks, [signature_timestamp(sig.field_name, status, covered)])


@dataclass
class _Validations:
    """One signature's pyHanko validations: ``structure`` for the checks of the signature itself (integrity,
    cryptography, level, modifications, coverage, its timestamp) and, when its trust is judged at the present,
    ``current`` (the configured revocation mode, embedded data only) and ``fetched`` (the same, fetching
    allowed); None when not made (yet), an exception when pyHanko raised one."""

    structure: PdfSignatureStatus | Exception
    current: PdfSignatureStatus | Exception | None = None
    fetched: PdfSignatureStatus | Exception | None = None


def _validate(sig: EmbeddedPdfSignature, reader: PdfFileReader, make_context: ContextFactory,
              trust: _TrustSettings) -> _Validations:
    """The structural validation, and the present ones when one validation provably serves both.

    The structural checks read from a status only what pyHanko computes without the validation context
    (digest, signature value, coverage, modification analysis, the signer's certificate), plus the verdict
    on the signature timestamp, whose trust does depend on it. So the validation the ``trust`` check makes
    at the present (made with the strict diff policy) serves the structural checks too when its context is
    the structural one (the caller's context factory, or the same revocation mode without fetching), or
    when the signature carries no signature timestamp (B-B: a hard-fail validation, fetching allowed, then
    validates the signature once instead of twice). Otherwise, or when that validation raised where the
    structural one might not, the structural validation is made as before. A B-LTA file's trust is judged
    long-term (:func:`_trust_checks`): nothing is shared.
    """
    shared = _same_context_now(trust) or not _has_signature_timestamp(sig)
    if _judged_long_term(reader, trust) or not shared:
        return _Validations(_structural(sig, make_context))
    current = _present_status(sig, reader, trust, fetch=False, diff=True)
    if not isinstance(current, Exception) or _same_context_now(trust):
        return _Validations(current, current)  # the structural validation would raise the same error
    fetched = _present_status(sig, reader, trust, fetch=True, diff=True) if trust.fetch else None
    if fetched is not None and not isinstance(fetched, Exception):
        return _Validations(fetched, current, fetched)
    return _Validations(_structural(sig, make_context), current, fetched)


def _structural(sig: EmbeddedPdfSignature, make_context: ContextFactory) -> PdfSignatureStatus | Exception:
    try:
        return validate_pdf_signature(sig, signer_validation_context=make_context(), diff_policy=STRICT_DIFF_POLICY)
    except _VALIDATION_ERRORS as e:
        return e


def _judged_long_term(reader: PdfFileReader, trust: _TrustSettings) -> bool:
    """A file with document timestamps (B-LTA) has its trust judged by the AdES engine, unless the caller
    gives the validation context."""
    return bool(reader.embedded_timestamp_signatures) and trust.context_factory is None


def _same_context_now(trust: _TrustSettings) -> bool:
    """True when the present validation without fetching uses the structural validation's context."""
    return trust.context_factory is not None or trust.mode == _STRUCTURAL_MODE


def _has_signature_timestamp(sig: EmbeddedPdfSignature) -> bool:
    """True when the signature carries a signature timestamp token (as pyHanko looks for it), or when its
    unsigned attributes cannot be read (then the caller does not share a validation)."""
    try:
        attrs = sig.signer_info["unsigned_attrs"]
        return attrs.native is not None and any(attr["type"].native == "signature_time_stamp_token"
                                                for attr in attrs)
    except _VALIDATION_ERRORS:
        return True


def _integrity(status: PdfSignatureStatus, problem: str | None) -> Check:
    if problem is not None:
        return Check("integrity", False, problem)
    if status.intact:
        return Check("integrity", True, _("the {algorithm} digest of the signed bytes matches",
                                           algorithm=status.md_algorithm))
    return Check("integrity", False, _("the signed bytes were changed: their digest does not match"))


def _cryptography(status: PdfSignatureStatus) -> Check:
    mechanism = getattr(status, "pkcs7_signature_mechanism", "") or ""
    if status.valid:
        return Check("cryptography", True, _("signature value valid {mechanism}", mechanism=mechanism).strip())
    return Check("cryptography", False, _("the signature value does not match the signer's key"))


def _trust_checks(sig: EmbeddedPdfSignature, reader: PdfFileReader, validations: _Validations,
                  trust: _TrustSettings) -> tuple[Check, Check]:
    """``trust`` and ``revocation``: long-term (AdES) for B-LTA, else at the present; embedded data first.

    The present validations already made (:func:`_validate`) are taken as they are.
    """
    status = validations.structure
    if _judged_long_term(reader, trust):
        return _long_term_checks(sig, reader, status, trust)
    current = validations.current
    if current is None:
        current = _present_status(sig, reader, trust, fetch=False)
    if not isinstance(current, Exception) and current.trusted:
        return _trust(current), _revocation(current, reader)
    if trust.fetch:
        fetched = validations.fetched
        if fetched is None:
            fetched = _present_status(sig, reader, trust, fetch=True)
        if not isinstance(fetched, Exception):
            return _trust(fetched), _revocation(fetched, reader)
        reason = _("revocation data could not be fetched ({error})", error=fetched)
    elif isinstance(current, Exception):
        reason = _("the file embeds no revocation data for the signer and revocation fetching is off")
    else:
        return _trust(current), _revocation(current, reader)
    signer = common_name(status.signing_cert)
    resolve = _("To resolve: verify with revocation fetching on (signing.fetch_revocation) and network access "
                "to the CA's OCSP/CRL")
    return (Check("trust", False, _("indeterminate for {signer}: {reason}. {resolve}", signer=signer, reason=reason,
                                    resolve=resolve), indeterminate=True),
            Check("revocation", False, _("not established: {reason}", reason=reason), indeterminate=True))


def _present_status(sig: EmbeddedPdfSignature, reader: PdfFileReader, trust: _TrustSettings,
                    *, fetch: bool, diff: bool = False) -> PdfSignatureStatus | Exception:
    """The signature validated now with the configured revocation mode (the DSS, plus fetching if ``fetch``);
    with ``diff``, also the modification analysis under the strict diff policy (as the structural validation)."""
    make = trust.context_factory or _context_factory(reader, trust.roots, fetch, trust.mode, trust.timeout)
    try:
        if diff:
            return validate_pdf_signature(sig, signer_validation_context=make(), diff_policy=STRICT_DIFF_POLICY)
        return validate_pdf_signature(sig, signer_validation_context=make(), skip_diff=True)
    except _VALIDATION_ERRORS as e:
        return e


def _long_term_checks(sig: EmbeddedPdfSignature, reader: PdfFileReader, status: PdfSignatureStatus,
                      trust: _TrustSettings) -> tuple[Check, Check]:
    verdict = long_term_verdict(sig, reader, trust.roots, revocation_mode=trust.mode, fetch=trust.fetch,
                                timeout=trust.timeout, diff_policy=STRICT_DIFF_POLICY)
    signer = common_name(status.signing_cert)
    if verdict.outcome == "valid":
        return (Check("trust", True, f"{signer}: {verdict.detail}"),
                Check("revocation", True, _("not revoked when signed (OCSP/CRL embedded in the DSS, "
                                            "proven by the archive timestamps)")))
    open_ = verdict.outcome == "indeterminate"
    revocation = (_("the certificate of {signer} is revoked", signer=signer) if verdict.revoked
                  else _("not established (see trust)"))
    return (Check("trust", False, f"{signer}: {verdict.detail}", indeterminate=open_),
            Check("revocation", False, revocation, indeterminate=open_))


def _renewal_check(reader: PdfFileReader, roots: list, sunsets: dict) -> Check:
    """Until when the newest timestamp keeps the file provable; fails once that time has passed."""
    try:
        life = longevity(reader, roots)
    except _VALIDATION_ERRORS as e:
        return Check("renewal", False, _("the newest timestamp cannot be read: {error}", error=e))
    if life is None:
        return Check("renewal", True,
                     _("no timestamp: provable only while the signer's certificate is valid and unrevoked"))
    now = datetime.now(timezone.utc)
    for algorithm in (life.digest_algorithm, life.signature_algorithm):
        if algorithm in sunsets and now.date() >= sunsets[algorithm]:
            return Check("renewal", False, _("{life}; but {algorithm} is past its sunset on {day}: renewal is due "
                                             "now (renew-timestamps)", life=life.describe(), algorithm=algorithm,
                                             day=i18n.format_date(sunsets[algorithm])))
    if now > life.provable_until:
        return Check("renewal", False, _("{life}; renewal was due before then", life=life.describe()))
    return Check("renewal", True, life.describe())


def _trust(status: PdfSignatureStatus) -> Check:
    signer = common_name(status.signing_cert)
    if status.revoked:
        return Check("trust", False, _("the certificate of {signer} is revoked", signer=signer))
    if status.trusted:
        anchor = common_name(status.validation_path[0])
        return Check("trust", True, _("{signer} chains to the trusted root {anchor}", signer=signer, anchor=anchor))
    problem = _expiry_problem(status.signing_cert) or _trust_problem(status)
    return Check("trust", False, _("{signer} is not trusted: {problem}", signer=signer, problem=problem))


def _expiry_problem(cert) -> str | None:
    validity = cert["tbs_certificate"]["validity"]
    not_before, not_after = validity["not_before"].native, validity["not_after"].native
    now = datetime.now(timezone.utc)
    if now > not_after:
        return _("the certificate expired on {day}, and no timestamp proves the signature was made while it "
                 "was valid", day=i18n.format_date(not_after))
    if now < not_before:
        return _("the certificate is not valid before {day}", day=i18n.format_date(not_before))
    return None


def _trust_problem(status: PdfSignatureStatus) -> str:
    indic = status.trust_problem_indic
    if indic is None:
        return _("no path to a trusted root")
    if indic.name == "NO_CERTIFICATE_CHAIN_FOUND":
        return _("no chain to the trusted roots (NO_CERTIFICATE_CHAIN_FOUND)")
    if indic.name == "OUT_OF_BOUNDS_NO_POE":
        return _("the certificate is expired or not yet valid (OUT_OF_BOUNDS_NO_POE)")
    return indic.name


def _revocation(status: PdfSignatureStatus, reader: PdfFileReader) -> Check:
    signer = common_name(status.signing_cert)
    if status.revoked:
        return Check("revocation", False, _("the certificate of {signer} is revoked", signer=signer))
    if not status.trusted:
        return Check("revocation", False, _("not established: the certificate is not trusted (see trust)"))
    if not names_revocation_sources(status.signing_cert):
        return Check("revocation", True, _("not revoked: the certificate of {signer} names no OCSP responder or CRL",
                                           signer=signer))
    if dss_has_revinfo(reader):
        return Check("revocation", True, _("not revoked (OCSP/CRL embedded in the DSS)"))
    return Check("revocation", True, _("not revoked (OCSP/CRL fetched online)"))


def _has_validation_updates(reader: PdfFileReader) -> bool:
    """True when the file carries a DSS or document timestamps (PAdES B-LT/B-LTA updates)."""
    return "/DSS" in reader.root or bool(reader.embedded_timestamp_signatures)


def _coverage(status: PdfSignatureStatus, allowed: tuple[ModificationLevel, ...], appended: str | None) -> Check:
    if appended is not None:
        return Check("coverage", False, appended)
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check("coverage", True, _("the signature covers the whole file"))
    if coverage == SignatureCoverageLevel.ENTIRE_REVISION and status.modification_level in allowed:
        return Check("coverage", True, _("the signature covers its revision; later ones only add validation data"))
    name = coverage.name if coverage is not None else "unknown"
    return Check("coverage", False, _("the signature does not cover the whole file (coverage {name})", name=name))


def _appended_bytes(reader: PdfFileReader, data: bytes) -> str | None:
    """What follows the end of the file's last revision, when it is more than white space, else None.

    A PDF reader takes the last ``%%EOF`` it finds and ignores what comes after it, so bytes appended
    there belong to no revision: pyHanko calls the last signature's coverage "entire revision" and finds
    no modification to analyse. An archived file holds nothing outside its revisions.
    """
    end = data.find(b"%%EOF", reader.last_startxref)
    if end < 0:
        return None  # pyHanko found its end differently; nothing to compare
    tail = data[end + len(b"%%EOF"):]
    if not tail.strip(b" \t\r\n\x00\x0c"):
        return None
    return _("{size} bytes follow the end of the file's last revision (%%EOF at byte {end}): they were appended "
             "after signing and belong to no signed revision", size=len(tail), end=end)


def _modifications(status: PdfSignatureStatus, allowed: tuple[ModificationLevel, ...],
                   damaged_dss: str | None = None) -> Check:
    if damaged_dss is not None:
        return Check("modifications", False, _("the validation data (DSS) in the file is damaged: {problem}",
                                                problem=damaged_dss))
    diff = status.diff_result
    if diff is not None and not isinstance(diff, DiffResult):
        return Check("modifications", False, _("the file was changed after signing: {reason}", reason=_reason(diff)))
    level = status.modification_level
    if level in allowed and status.docmdp_ok is not False:
        return Check("modifications", True, _("no modification after signing ({level})", level=level.name))
    if level == ModificationLevel.LTA_UPDATES:
        return Check("modifications", False,
                     _("a revision was added after signing, and the file has no validation data to justify it"))
    name = level.name if level is not None else "unknown"
    return Check("modifications", False, _("the file was changed after signing (modification level {level})",
                                           level=name))


def _reason(error: Exception) -> str:
    """pyHanko's SuspiciousModification as one sentence (some carry the underlying error as a second arg)."""
    return "; ".join(str(a) for a in error.args) if error.args else type(error).__name__


def _document_timestamps(reader: PdfFileReader, make_context: ContextFactory) -> list[tuple[bool, str]]:
    results = []
    try:
        stamps = reader.embedded_timestamp_signatures
    except _VALIDATION_ERRORS as e:
        return [(False, _("the document timestamps cannot be read: {error}", error=e))]
    for index, ts in enumerate(stamps):
        try:
            status = validate_pdf_timestamp(ts, validation_context=make_context(), diff_policy=STRICT_DIFF_POLICY)
        except _VALIDATION_ERRORS as e:
            results.append((False, _("document timestamp {field} could not be validated: {error}", field=ts.field_name,
                                     error=e)))
            continue
        covered = index < len(stamps) - 1
        results.append(timestamp_verdict(status, covered, _("document timestamp of {time}",
                                                             time=moment(status.timestamp))))
    return results


def sha256_check(data: bytes, expected: str, *, source: str | None = None) -> Check:
    """The ``archive_sha256`` check: the SHA-256 of ``data`` against the recorded one (``source``: as
    recorded where, for the reader; default "as recorded")."""
    actual = hashlib.sha256(data).hexdigest()
    if actual == expected.lower():
        return Check("archive_sha256", True, f"SHA-256 {actual} {source or _('as recorded')}")
    return Check("archive_sha256", False, _("SHA-256 {actual} differs from the recorded {expected}", actual=actual,
                                            expected=expected))


__all__ = ["CHECK_NAMES", "PADES_SUBFILTER", "pades_level_reached", "sha256_check", "stricter_level",
           "validation_context_for", "verify_pdf"]
