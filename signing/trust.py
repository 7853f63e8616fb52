"""Trust roots, revocation fetching and validation contexts: made in one place for signing, verifying and renewing.

A validation context (pyHanko's certificate validator) trusts the configured
roots, checks revocation in one of pyHanko's modes (``soft-fail``,
``hard-fail``, ``require``) and fetches OCSP responses and CRLs online only
when asked, each request bounded by a timeout. A signed file's own validation
data (its DSS) can be preloaded, so that it is used before anything is fetched.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from pyhanko.keys import load_certs_from_pemder
from pyhanko.sign.validation.dss import DocumentSecurityStore
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.fetchers.requests_fetchers import RequestsFetcherBackend

from digitize.errors import ConfigError
from digitize.i18n import _


def load_trust_roots(trust_roots: Sequence[Path]) -> list:
    """The certificates of ``trust_roots`` (PEM or DER files), as asn1crypto objects; ConfigError if unreadable."""
    try:
        return list(load_certs_from_pemder([str(p) for p in trust_roots]))
    except (OSError, ValueError) as e:
        raise ConfigError(_("could not read the trust roots {roots}: {error}",
                            roots=", ".join(map(str, trust_roots)), error=e)) from e


def fetcher(timeout: float) -> RequestsFetcherBackend:
    """The OCSP/CRL fetcher: plain HTTP requests, each bounded by ``timeout`` seconds."""
    return RequestsFetcherBackend(per_request_timeout=timeout)


def validation_context(
    roots: Sequence,
    *,
    fetch: bool,
    revocation_mode: str,
    timeout: float,
    moment: datetime | None = None,
    dss: DocumentSecurityStore | None = None,
) -> ValidationContext:
    """A context trusting ``roots`` (loaded certificates), revocation checked in ``revocation_mode``.

    OCSP/CRL are fetched online only when ``fetch`` (each request within
    ``timeout`` seconds); ``moment`` validates at another time than now;
    ``dss`` preloads a signed file's certificates, OCSP responses and CRLs.
    """
    kwargs: dict = {"trust_roots": list(roots), "allow_fetching": fetch, "revocation_mode": revocation_mode}
    if moment is not None:
        kwargs["moment"] = moment
    if fetch:
        kwargs["fetcher_backend"] = fetcher(timeout)
    return dss.as_validation_context(kwargs) if dss is not None else ValidationContext(**kwargs)


def signer_certificate(signed_data, pool: Sequence):
    """The certificate of ``pool`` (asn1crypto) that made the CMS ``signed_data``'s first signature,
    found by issuer and serial number or by key identifier; None when it is not there."""
    sid = signed_data["signer_infos"][0]["sid"]
    for cert in pool:
        if sid.name == "issuer_and_serial_number":
            if cert.issuer == sid.chosen["issuer"] and cert.serial_number == sid.chosen["serial_number"].native:
                return cert
        elif cert.key_identifier == sid.chosen.native:
            return cert
    return None


def embedded_certificates(signed_data) -> list:
    """The certificates a CMS ``signed_data`` carries (asn1crypto)."""
    return [c.chosen for c in signed_data["certificates"] or () if c.name == "certificate"]


def common_name(cert) -> str:
    """An asn1crypto certificate's CN, or its whole subject when it has none."""
    return cert.subject.native.get("common_name") or cert.subject.human_friendly


__all__ = ["common_name", "embedded_certificates", "fetcher", "load_trust_roots", "signer_certificate",
           "validation_context"]
