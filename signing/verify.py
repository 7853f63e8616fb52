"""Verification of signed files: a report of named checks, never an exception for a bad signature.

pyHanko's verdicts each see one side of the truth: an incremental edit after
signing still passes the cryptographic and trust checks and is caught only by
the modification analysis; an expired signer is the reverse. So every aspect is
reported as its own check, and the report is ok only when all of them are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from pathlib import Path

from pyhanko.keys import load_certs_from_pemder
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DiffResult, ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus, SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from digitize.errors import ConfigError, VerificationError

PADES_SUBFILTER = "/ETSI.CAdES.detached"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
CHECK_NAMES = ("signed", "integrity", "cryptography", "trust", "coverage", "modifications", "pades_level")
# pyHanko files Info/XMP edits under LTA_UPDATES too (it rewrites metadata with
# each DSS update), so that level is accepted only where the file has validation
# data or document timestamps to justify later revisions; a B-B file must have none.
_NO_CHANGE = (ModificationLevel.NONE,)
_LTA_CHANGES = (ModificationLevel.NONE, ModificationLevel.LTA_UPDATES)
# what a damaged signature or PDF structure raises inside pyHanko and asn1crypto
_VALIDATION_ERRORS = (SignatureValidationError, PdfError, ValueError, TypeError, KeyError, IndexError)


@dataclass(frozen=True)
class Check:
    """One named verdict with a readable reason."""

    name: str
    ok: bool
    detail: str


@dataclass(frozen=True)
class VerifyReport:
    """All checks made on one file; ``ok`` only when every check passed."""

    path: Path
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(c.ok for c in self.checks)

    def check(self, name: str) -> Check:
        """The check called ``name`` (KeyError if it was not made)."""
        for c in self.checks:
            if c.name == name:
                return c
        raise KeyError(name)

    def to_dict(self) -> dict[str, object]:
        """A JSON-ready form: path, ok, and the checks in order."""
        return {
            "path": str(self.path),
            "ok": self.ok,
            "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in self.checks],
        }


def validation_context_for(
    trust_roots: Sequence[Path],
    *,
    moment: datetime | None = None,
    fetch_revocation: bool = False,
) -> ValidationContext:
    """The one place a ValidationContext is made: trust ``trust_roots`` (PEM or DER).

    Revocation data is not fetched for now (the demo CA publishes no OCSP or
    CRL; ``soft-fail`` accepts its absence); ``fetch_revocation=True`` turns it on.
    """
    try:
        roots = list(load_certs_from_pemder([str(p) for p in trust_roots]))
    except (OSError, ValueError) as e:
        raise ConfigError(f"could not read the trust roots {', '.join(map(str, trust_roots))}: {e}") from e
    return ValidationContext(
        trust_roots=roots,
        moment=moment,
        allow_fetching=fetch_revocation,
        revocation_mode="soft-fail",
    )


def verify_pdf(
    path: Path,
    trust_roots: Sequence[Path],
    *,
    expected_sha256: str | None = None,
    min_pades_level: str = "B-B",
    context_factory: Callable[[], ValidationContext] | None = None,
) -> VerifyReport:
    """Check every signature of ``path`` and, if given, the file's SHA-256.

    Returns a report (bad signatures are failing checks); raises
    :class:`VerificationError` only when the file cannot be read at all.
    ``context_factory`` replaces the default validation context (trust roots,
    no revocation fetching), e.g. for revocation checking or a fixed time.
    """
    data = _read(path)
    reader = _open(data, path)
    make_context = context_factory or (lambda: validation_context_for(trust_roots))
    checks = list(_signature_checks(reader, make_context, min_pades_level))
    if expected_sha256 is not None:
        checks.append(_sha256_check(data, expected_sha256))
    return VerifyReport(path=path, checks=tuple(checks))


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as e:
        raise VerificationError(f"could not read {path}: {e.strerror or e}") from e


def _open(data: bytes, path: Path) -> PdfFileReader:
    try:
        return PdfFileReader(BytesIO(data), strict=False)
    except _VALIDATION_ERRORS as e:
        raise VerificationError(f"{path} is not a readable PDF: {e}") from e


def _signature_checks(
    reader: PdfFileReader,
    make_context: Callable[[], ValidationContext],
    min_level: str,
) -> list[Check]:
    try:
        signatures = reader.embedded_regular_signatures
    except _VALIDATION_ERRORS as e:
        return _all_failed(f"the signature fields cannot be read: {e}")
    if not signatures:
        return _all_failed("the file carries no signature")
    per_signature = [_checks_for(sig, reader, make_context, min_level) for sig in signatures]
    names = [sig.field_name for sig in signatures]
    return [_combine(i, per_signature, names) for i in range(len(CHECK_NAMES))]


def _all_failed(reason: str) -> list[Check]:
    first = Check("signed", False, reason)
    return [first, *(Check(name, False, "no signature to check") for name in CHECK_NAMES[1:])]


def _combine(index: int, per_signature: list[list[Check]], names: list[str]) -> Check:
    """One check from the same check of every signature (prefixed by field name if several)."""
    checks = [checks[index] for checks in per_signature]
    if len(checks) == 1:
        return checks[0]
    detail = "; ".join(f"{name}: {c.detail}" for name, c in zip(names, checks))
    return Check(checks[0].name, all(c.ok for c in checks), detail)


def _checks_for(
    sig: EmbeddedPdfSignature,
    reader: PdfFileReader,
    make_context: Callable[[], ValidationContext],
    min_level: str,
) -> list[Check]:
    signed = Check("signed", True, f"signature field {sig.field_name}")
    try:
        status = validate_pdf_signature(sig, signer_validation_context=make_context())
    except _VALIDATION_ERRORS as e:
        reason = f"the signature could not be validated: {e}"
        return [signed, *(Check(name, False, reason) for name in CHECK_NAMES[1:])]
    allowed = _LTA_CHANGES if _has_validation_updates(reader) else _NO_CHANGE
    return [
        signed,
        _integrity(status),
        _cryptography(status),
        _trust(status),
        _coverage(status, allowed),
        _modifications(status, allowed),
        _pades_level(sig, status, reader, min_level),
    ]


def _integrity(status: PdfSignatureStatus) -> Check:
    if status.intact:
        return Check("integrity", True, f"the {status.md_algorithm} digest of the signed bytes matches")
    return Check("integrity", False, "the signed bytes were changed: their digest does not match")


def _cryptography(status: PdfSignatureStatus) -> Check:
    mechanism = status.pkcs7_signature_mechanism if hasattr(status, "pkcs7_signature_mechanism") else ""
    if status.valid:
        return Check("cryptography", True, f"signature value valid {mechanism}".strip())
    return Check("cryptography", False, "the signature value does not match the signer's key")


def _trust(status: PdfSignatureStatus) -> Check:
    signer = _common_name(status.signing_cert)
    if status.revoked:
        return Check("trust", False, f"the certificate of {signer} is revoked")
    if status.trusted:
        anchor = _common_name(status.validation_path[0])
        return Check("trust", True, f"{signer} chains to the trusted root {anchor}")
    return Check("trust", False, f"{signer} is not trusted: {_trust_problem(status)}")


def _trust_problem(status: PdfSignatureStatus) -> str:
    indic = status.trust_problem_indic
    if indic is None:
        return "no path to a trusted root"
    if indic.name == "OUT_OF_BOUNDS_NO_POE":
        return ("the certificate is expired or not yet valid now, and no timestamp proves "
                "the signature was made while it was valid (OUT_OF_BOUNDS_NO_POE)")
    if indic.name == "NO_CERTIFICATE_CHAIN_FOUND":
        return "no chain to the trusted roots (NO_CERTIFICATE_CHAIN_FOUND)"
    return indic.name


def _common_name(cert) -> str:
    """An asn1crypto certificate's CN, or its whole subject when it has none."""
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


def _has_validation_updates(reader: PdfFileReader) -> bool:
    """True when the file carries a DSS or document timestamps (PAdES B-LT/B-LTA updates)."""
    return "/DSS" in reader.root or bool(reader.embedded_timestamp_signatures)


def _coverage(status: PdfSignatureStatus, allowed: tuple[ModificationLevel, ...]) -> Check:
    coverage = status.coverage
    if coverage == SignatureCoverageLevel.ENTIRE_FILE:
        return Check("coverage", True, "the signature covers the whole file")
    if coverage == SignatureCoverageLevel.ENTIRE_REVISION and status.modification_level in allowed:
        return Check("coverage", True, "the signature covers its revision; later ones only add validation data")
    name = coverage.name if coverage is not None else "unknown"
    return Check("coverage", False, f"the signature does not cover the whole file (coverage {name})")


def _modifications(status: PdfSignatureStatus, allowed: tuple[ModificationLevel, ...]) -> Check:
    diff = status.diff_result
    if diff is not None and not isinstance(diff, DiffResult):
        return Check("modifications", False, f"suspicious change after signing: {diff}")
    level = status.modification_level
    if level in allowed and status.docmdp_ok is not False:
        return Check("modifications", True, f"no modification after signing ({level.name})")
    if level == ModificationLevel.LTA_UPDATES:
        return Check("modifications", False, "a revision was added after signing, and the file has no validation data to justify it")
    name = level.name if level is not None else "unknown"
    return Check("modifications", False, f"the file was changed after signing (modification level {name})")


def _pades_level(sig: EmbeddedPdfSignature, status: PdfSignatureStatus, reader: PdfFileReader, min_level: str) -> Check:
    reached = pades_level_reached(sig, status, reader)
    if reached is None:
        return Check("pades_level", False, f"not a PAdES signature (subfilter {sig.sig_object.get('/SubFilter')})")
    ok = LEVELS.index(reached) >= LEVELS.index(min_level)
    return Check("pades_level", ok, f"{reached} reached" + ("" if ok else f"; {min_level} required"))


def pades_level_reached(sig: EmbeddedPdfSignature, status: PdfSignatureStatus, reader: PdfFileReader) -> str | None:
    """The highest PAdES baseline level the file's structure shows, or None if not PAdES.

    B-T: a valid signature timestamp; B-LT: also a DSS with validation data;
    B-LTA: also a document timestamp after it. (A full LT check would validate
    from the embedded data alone; that comes with the TSA/OCSP support.)
    """
    if sig.sig_object.get("/SubFilter") != PADES_SUBFILTER:
        return None
    ts = status.timestamp_validity
    if ts is None or not (ts.intact and ts.valid):
        return "B-B"
    if "/DSS" not in reader.root:
        return "B-T"
    if not reader.embedded_timestamp_signatures:
        return "B-LT"
    return "B-LTA"


def _sha256_check(data: bytes, expected: str) -> Check:
    actual = hashlib.sha256(data).hexdigest()
    if actual == expected.lower():
        return Check("archive_sha256", True, f"SHA-256 {actual} as recorded")
    return Check("archive_sha256", False, f"SHA-256 {actual} differs from the recorded {expected}")
