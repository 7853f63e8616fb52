"""Long-term validation of a B-LTA signature (ETSI EN 319 102-1), and how long a file stays provable.

A B-LTA file proves itself: its DSS holds the certificates, OCSP responses and
CRLs, and its chain of document timestamps proves they existed while they were
current. pyHanko 0.38's AdES engine (:func:`ades_lta_validation`) validates it
that way. It is run on the embedded data alone first; revocation data is
fetched online only to resolve an indeterminate result, and only when asked.

Three outcomes, kept apart: valid; invalid (a final reason: revoked, or the
newest timestamp's TSA chain expired before anyone renewed it); indeterminate
(not enough data *now*, with what would resolve it).

:func:`longevity` reads how long the newest timestamp keeps the file provable:
the earliest expiry in its TSA's certificate chain, its hash and signature
algorithms, and until when the embedded revocation data of that chain is current.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from asn1crypto import cms, crl, ocsp, x509
from pyhanko.pdf_utils.decode_limits import DecodePurpose
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESFailure, AdESIndeterminate, AdESPassed
from pyhanko.sign.diff_analysis import DiffPolicy
from pyhanko.sign.validation.ades import AdESLTAValidationResult, ades_lta_validation
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko.sign.validation.errors import SignatureValidationError
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.policy_decl import CertRevTrustPolicy, RevocationCheckingPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from digitize.i18n import N_, _, format_date, format_datetime, language
from signing.trust import common_name, embedded_certificates, fetcher, signer_certificate

#: pyHanko loggers that print tracebacks and certificate warnings a verify report already states
NOISY_LOGGERS = ("pyhanko.sign.diff_analysis", "pyhanko.sign.validation", "pyhanko_certvalidator",
                 "pyhanko.sign.general")
#: What a file's newest timestamp is (marked here, translated where shown).
ARCHIVE_TIMESTAMP, SIGNATURE_TIMESTAMP = N_("archive timestamp"), N_("signature timestamp")
_REVOKED = (AdESFailure.REVOKED, AdESIndeterminate.REVOKED_NO_POE, AdESIndeterminate.REVOKED_CA_NO_POE)


def quiet_pyhanko_logs() -> None:
    """Keep pyHanko's own warnings and tracebacks off stderr: the report says what they mean."""
    for name in NOISY_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass(frozen=True)
class Longevity:
    """How long the newest timestamp of a file keeps it provable."""

    kind: str  # ARCHIVE_TIMESTAMP or SIGNATURE_TIMESTAMP (English, translated where shown)
    time: datetime
    tsa: str
    digest_algorithm: str
    signature_algorithm: str
    provable_until: datetime  # the earliest not-after in the TSA's chain
    expiring: str  # which certificate expires then
    revocation_current_until: datetime | None  # None: no revocation data of the chain embedded

    @property
    def algorithms(self) -> str:
        """E.g. ``sha256 with ecdsa``."""
        return _("{digest} with {signature}", digest=self.digest_algorithm, signature=self.signature_algorithm)

    def describe(self) -> str:
        """One sentence for the report, in the reader's language."""
        revocation = (_("its embedded revocation data is current until {day}", day=_day(self.revocation_current_until))
                      if self.revocation_current_until else _("no revocation data of its chain is embedded"))
        return _("the newest {kind} ({day}, {tsa}, {algorithms}) keeps the file provable until {until}, when "
                 "{expiring} expires; {revocation}", kind=_(self.kind), day=_day(self.time), tsa=self.tsa,
                 algorithms=self.algorithms, until=_day(self.provable_until), expiring=self.expiring,
                 revocation=revocation)


@dataclass(frozen=True)
class LongTermVerdict:
    """The AdES verdict on one signature, read for people: outcome, reason, what would resolve it."""

    outcome: str  # valid | invalid | indeterminate
    detail: str
    best_signature_time: datetime | None = None
    #: the signer's certificate was revoked (an invalid outcome no later data can change)
    revoked: bool = False


def spec_for(roots: Sequence, revocation_mode: str, *, fetch: bool, timeout: float,
             diff_policy: DiffPolicy) -> PdfSignatureValidationSpec:
    """A validation spec trusting ``roots``; revocation data from the file only unless ``fetch``."""
    policy = CertValidationPolicySpec(
        trust_manager=SimpleTrustManager.build(trust_roots=list(roots)),
        revinfo_policy=CertRevTrustPolicy(RevocationCheckingPolicy.from_legacy(revocation_mode)),
    )
    gathering = (RevocationInfoGatheringSpec(RevinfoOnlineFetchingRule.ALWAYS_FETCH,
                                             fetcher_backend=fetcher(timeout))
                 if fetch else RevocationInfoGatheringSpec(RevinfoOnlineFetchingRule.LOCAL_ONLY))
    return PdfSignatureValidationSpec(
        SignatureValidationSpec(cert_validation_policy=policy, revinfo_gathering_policy=gathering),
        diff_policy=diff_policy,
    )


def long_term_verdict(sig: EmbeddedPdfSignature, reader: PdfFileReader, roots: Sequence, *,
                      revocation_mode: str, fetch: bool, timeout: float, diff_policy: DiffPolicy,
                      now: datetime | None = None) -> LongTermVerdict:
    """Validate ``sig`` as B-LTA from the embedded data; fetch only to resolve an indeterminate result."""
    now = now or datetime.now(timezone.utc)
    local = _run(sig, spec_for(roots, revocation_mode, fetch=False, timeout=timeout, diff_policy=diff_policy))
    if isinstance(local, AdESLTAValidationResult) and local.ades_subindic == AdESPassed.OK:
        return LongTermVerdict("valid", _proven(local, _("embedded validation data only")), local.best_signature_time)
    final = _final_failure(local, reader, roots, now)
    if final is not None:
        return final
    reason = _open_reason(local, reader, roots, now)
    if not fetch:
        return LongTermVerdict("indeterminate", _("{reason}; revocation fetching is off (signing.fetch_revocation)",
                                                  reason=reason))
    online = _run(sig, spec_for(roots, revocation_mode, fetch=True, timeout=timeout, diff_policy=diff_policy))
    if isinstance(online, AdESLTAValidationResult) and online.ades_subindic == AdESPassed.OK:
        return LongTermVerdict("valid", _proven(online, _("with revocation data fetched online")),
                               online.best_signature_time)
    if isinstance(online, AdESLTAValidationResult) and online.ades_subindic in _REVOKED:
        return LongTermVerdict("invalid", _("revoked: {problem}", problem=online.failure_msg), revoked=True)
    return LongTermVerdict("indeterminate", _("{reason}; fetching current revocation data did not resolve it "
                                              "({summary})", reason=reason, summary=_summary(online)))


def _run(sig: EmbeddedPdfSignature, spec: PdfSignatureValidationSpec) -> AdESLTAValidationResult | Exception:
    try:
        return asyncio.run(ades_lta_validation(sig, spec))
    except (SignatureValidationError, ValueError, KeyError, TypeError) as e:
        return e


def _proven(result: AdESLTAValidationResult, source: str) -> str:
    when = _moment(result.best_signature_time) if result.best_signature_time else "?"
    er = result.oldest_evidence_record_timestamp
    if er:
        return _("valid long-term (ETSI EN 319 102-1): signed by {time} as the signature timestamp and the archive "
                 "timestamps from {day} on prove ({source})", time=when, day=_day(er), source=source)
    return _("valid long-term (ETSI EN 319 102-1): signed by {time} as the signature timestamp proves ({source})",
             time=when, source=source)


def _summary(result: AdESLTAValidationResult | Exception) -> str:
    if isinstance(result, Exception):
        return f"{type(result).__name__}: {result}"
    return f"{result.ades_subindic.name}: {result.failure_msg or _('no detail')}"


def _final_failure(result, reader: PdfFileReader, roots: Sequence, now: datetime) -> LongTermVerdict | None:
    """A reason no later data can remove: revoked, or the newest timestamp's chain expired unrenewed."""
    if isinstance(result, AdESLTAValidationResult) and result.ades_subindic in _REVOKED:
        return LongTermVerdict("invalid", _("the signer's certificate is revoked ({summary})",
                                            summary=_summary(result)), revoked=True)
    life = longevity(reader, roots)
    if life is not None and now > life.provable_until:
        return LongTermVerdict("invalid", _(
            "no longer provable: {life}; renewal was due before {day} (renew-timestamps) and did not happen, and "
            "nothing newer proves when the file existed", life=life.describe(), day=_day(life.provable_until)))
    return None


def _open_reason(result, reader: PdfFileReader, roots: Sequence, now: datetime) -> str:
    life = longevity(reader, roots)
    if life is not None and life.revocation_current_until is not None and now > life.revocation_current_until:
        return _("indeterminate: {life}, and that time has passed, so the TSA chain ({tsa}) of the newest {kind} "
                 "needs current revocation data. To resolve: verify with revocation fetching on and network access "
                 "to its CA's CRL/OCSP, or renew the archive timestamp before {day}", life=life.describe(),
                 tsa=life.tsa, kind=_(life.kind), day=_day(life.provable_until))
    return _("indeterminate ({summary}). To resolve: verify with revocation fetching on and network access, or "
             "renew the archive timestamp", summary=_summary(result))


# --- how long the newest timestamp lasts -------------------------------------------


def longevity(reader: PdfFileReader, roots: Sequence) -> Longevity | None:
    """How long the newest document (else signature) timestamp keeps the file provable; None without one.

    The newest timestamp whose TSA chains to ``roots`` counts: one from a TSA nobody trusts (anyone can
    append a document timestamp) proves nothing and moves no date. When none chains, the newest is read.
    """
    tokens = _tokens_newest_first(reader)
    if not tokens:
        return None
    dss = _embedded(reader)
    root_digests = {r.sha256 for r in roots}
    first = None
    for kind, token, when in tokens:
        pool = list(roots) + embedded_certificates(token)
        if dss is not None:
            pool += dss.certs
        signer = signer_certificate(token, pool)
        if signer is None:
            continue
        chain = _chain(signer, pool)
        found = (kind, token, when, signer, chain)
        first = first or found
        if chain[-1].sha256 in root_digests:
            return _longevity_of(*found, dss)
    return _longevity_of(*first, dss) if first is not None else None


def _longevity_of(kind: str, token: cms.SignedData, when: datetime, signer: x509.Certificate,
                  chain: list[x509.Certificate], dss: _Embedded | None) -> Longevity:
    expiring = min(chain, key=lambda c: c["tbs_certificate"]["validity"]["not_after"].native)
    info = token["signer_infos"][0]
    return Longevity(
        kind=kind, time=when, tsa=common_name(signer), digest_algorithm=info["digest_algorithm"]["algorithm"].native,
        signature_algorithm=info["signature_algorithm"].signature_algo,
        provable_until=expiring["tbs_certificate"]["validity"]["not_after"].native,
        expiring=_("the certificate of {name}", name=common_name(expiring)),
        revocation_current_until=_revocation_current_until(chain, dss),
    )


def _tokens_newest_first(reader: PdfFileReader) -> list[tuple[str, cms.SignedData, datetime]]:
    """The document timestamps, newest first; without any, the signatures' timestamps, newest first."""
    stamps = reader.embedded_timestamp_signatures
    if stamps:
        return [(ARCHIVE_TIMESTAMP, s.signed_data, _tst_time(s.signed_data)) for s in reversed(stamps)]
    found = []
    for sig in reader.embedded_regular_signatures:
        attrs = sig.signer_info["unsigned_attrs"]
        for attr in attrs if attrs.native is not None else ():
            if attr["type"].native == "signature_time_stamp_token":
                token = attr["values"][0]["content"]
                found.append((SIGNATURE_TIMESTAMP, token, _tst_time(token)))
    return sorted(found, key=lambda t: t[2], reverse=True)


def _tst_time(token: cms.SignedData) -> datetime:
    return token["encap_content_info"]["content"].parsed["gen_time"].native


def _chain(cert: x509.Certificate, pool: list) -> list[x509.Certificate]:
    chain = [cert]
    while chain[-1].self_signed == "no":
        issuer = next((c for c in pool if c.subject == chain[-1].issuer and c not in chain), None)
        if issuer is None:
            break
        chain.append(issuer)
    return chain


@dataclass(frozen=True)
class _Embedded:
    certs: list
    crls: list
    ocsps: list


def dss_damage(reader: PdfFileReader) -> str | None:
    """What in the file's DSS is not a certificate, CRL or OCSP response it claims to be; None if all parse.

    Anyone can append DSS entries (the diff policy must allow validation data after signing); one that
    cannot be parsed is damage, not missing data, and fetching online would not repair it.
    """
    if "/DSS" not in reader.root:
        return None
    try:
        dss = DocumentSecurityStore.read_dss(reader)
    except (SignatureValidationError, ValueError, KeyError, TypeError, NotImplementedError) as e:
        return _("the DSS cannot be read ({kind}: {error})", kind=type(e).__name__, error=e)
    kinds = (("/Certs", dss.certs.values(), DecodePurpose.CERTIFICATE, x509.Certificate),
             ("/CRLs", dss.crls, DecodePurpose.CRL, crl.CertificateList),
             ("/OCSPs", dss.ocsps, DecodePurpose.OCSP_RESPONSE, ocsp.OCSPResponse))
    for name, refs, purpose, spec in kinds:
        for index, ref in enumerate(refs):
            try:
                spec.load(ref.get_object().read_data(purpose)).native  # noqa: B018 - parse it all
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                return _("entry {number} of the DSS's {name} is not valid DER ({kind}: {error})", number=index + 1,
                         name=name, kind=type(e).__name__, error=e)
    return None


def _embedded(reader: PdfFileReader) -> _Embedded | None:
    """The DSS's certificates, CRLs and OCSP responses, parsed (None when the file has no DSS)."""
    try:
        dss = DocumentSecurityStore.read_dss(reader)
        return _Embedded(
            certs=list(dss.load_certs()),
            crls=[crl.CertificateList.load(ref.get_object().read_data(DecodePurpose.CRL)) for ref in dss.crls],
            ocsps=[ocsp.OCSPResponse.load(ref.get_object().read_data(DecodePurpose.OCSP_RESPONSE))
                   for ref in dss.ocsps],
        )
    except (SignatureValidationError, ValueError, KeyError, TypeError, NotImplementedError):
        return None


def _revocation_current_until(chain: list[x509.Certificate], dss: _Embedded | None) -> datetime | None:
    """The earliest, over the chain's non-root certificates, of the latest next update embedded for it."""
    if dss is None:
        return None
    limits = []
    for cert in chain:
        if cert.self_signed != "no":
            continue  # a trust anchor is not checked for revocation
        updates = [c["tbs_cert_list"]["next_update"].native for c in dss.crls
                   if c["tbs_cert_list"]["issuer"] == cert.issuer and c["tbs_cert_list"]["next_update"].native]
        updates += _ocsp_updates(cert, dss)
        if not updates:
            return None
        limits.append(max(updates))
    return min(limits) if limits else None


def _ocsp_updates(cert: x509.Certificate, dss: _Embedded) -> list[datetime]:
    found = []
    for response in dss.ocsps:
        try:
            for single in response.basic_ocsp_response["tbs_response_data"]["responses"]:
                if single["cert_id"]["serial_number"].native == cert.serial_number and single["next_update"].native:
                    found.append(single["next_update"].native)
        except (KeyError, ValueError, TypeError):
            continue
    return found


def _day(moment: datetime | None) -> str:
    """A day as a person reads it (``2040-01-01`` in English, ``01/01/2040`` in Vietnamese)."""
    return format_date(moment.date()) if moment else "?"


def _moment(value: datetime) -> str:
    """A moment: ISO 8601 in English (as reports always gave it), Vietnam time for a Vietnamese reader."""
    return value.isoformat(timespec="seconds") if language() == "en" else format_datetime(value, seconds=True)
