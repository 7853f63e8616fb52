"""The ``timestamps`` and ``pades_level`` checks of :mod:`signing.verify`: each timestamp's verdict, and the
PAdES baseline level that the signature timestamp, the DSS and the document timestamps reach.

These read the statuses pyHanko made (:func:`signing.verify.verify_pdf` validates); they validate nothing.
"""

from __future__ import annotations

from datetime import datetime

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import PdfSignatureStatus

from digitize import i18n
from digitize.i18n import N_, _
from digitize.models import PADES_LEVELS
from signing.report import Check

PADES_SUBFILTER = "/ETSI.CAdES.detached"


# A timestamp covered by a later document timestamp need not be trusted *now*: its TSA
# chain is judged at the time the later one proves (the long-term ``trust`` check); here
# it must only be intact and correctly signed. The newest one must be trusted now.
_COVERED = N_("valid (its TSA chain is judged long-term, see trust)")


def signature_timestamp(field_name: str, status: PdfSignatureStatus, covered: bool) -> tuple[bool, str]:
    ts = status.timestamp_validity
    if ts is None:
        return True, _("{field}: no signature timestamp", field=field_name)
    when = moment(ts.timestamp) if ts.timestamp else "?"
    return timestamp_verdict(ts, covered, _("{field}: signature timestamp of {time}", field=field_name, time=when))


def timestamp_verdict(ts, covered: bool, label: str) -> tuple[bool, str]:
    if ts.intact and ts.valid and (ts.trusted or covered):
        verdict = _("valid") if ts.trusted else _(_COVERED)
        return True, f"{label} {verdict}"
    return False, _("{label} NOT valid ({problem})", label=label, problem=_ts_problem(ts))


def moment(value: datetime) -> str:
    """A timestamp's time: ISO 8601 in English (as ``--json`` always gave it), Vietnam time for a person."""
    return value.isoformat() if i18n.language() == "en" else i18n.format_datetime(value, seconds=True)


def _ts_problem(status) -> str:
    if not status.intact:
        return _("the timestamped bytes were changed")
    if not status.valid:
        return _("bad timestamp signature")
    indic = getattr(status, "trust_problem_indic", None)
    return _("TSA not trusted: {problem}", problem=indic.name if indic else _("no path to a trusted root"))


def timestamps_check(stamps: list[tuple[bool, str]]) -> Check:
    return Check("timestamps", all(ok for ok, _ in stamps), "; ".join(detail for _, detail in stamps))


def pades_level_check(sig: EmbeddedPdfSignature, status: PdfSignatureStatus, reader: PdfFileReader, min_level: str) -> Check:
    reached = pades_level_reached(sig, status, reader)
    if reached is None:
        return Check("pades_level", False, _("not a PAdES signature (subfilter {subfilter})",
                                             subfilter=sig.sig_object.get("/SubFilter")))
    required = min_level if min_level in PADES_LEVELS else "B-B"
    if PADES_LEVELS.index(reached) >= PADES_LEVELS.index(required):
        return Check("pades_level", True, _("{reached} reached", reached=reached))
    return Check("pades_level", False, _("{reached} reached; {required} required", reached=reached, required=required))


def pades_level_reached(sig: EmbeddedPdfSignature, status: PdfSignatureStatus, reader: PdfFileReader) -> str | None:
    """The highest PAdES baseline level the file shows, or None if not PAdES.

    B-T: a valid signature timestamp; B-LT: also a DSS with the signer's
    revocation data (OCSP or CRL) when the certificate names any; B-LTA: also
    a document timestamp after it.
    """
    if sig.sig_object.get("/SubFilter") != PADES_SUBFILTER:
        return None
    ts = status.timestamp_validity
    if ts is None or not (ts.intact and ts.valid):
        return "B-B"
    if "/DSS" not in reader.root:
        return "B-T"
    if names_revocation_sources(status.signing_cert) and not dss_has_revinfo(reader):
        return "B-T"
    if not reader.embedded_timestamp_signatures:
        return "B-LT"
    return "B-LTA"


def names_revocation_sources(cert) -> bool:
    return bool(cert.ocsp_urls or cert.crl_distribution_points)


def dss_has_revinfo(reader: PdfFileReader) -> bool:
    if "/DSS" not in reader.root:
        return False
    dss = reader.root["/DSS"]
    return "/OCSPs" in dss or "/CRLs" in dss
