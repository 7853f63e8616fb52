"""The ``integrity`` check's look at what the signature's byte range leaves out.

The byte range of a signature covers the whole revision but its ``/Contents``,
the hex string that holds the CMS. pyHanko reads the CMS from there and ignores
what follows it, and finds the signer's chain through the trust roots, not
through the certificates the CMS carries (which no signature covers). So the
hole must hold the CMS and zero padding only, and each certificate carried must
verify against its issuer: a changed byte in either would otherwise pass.
"""

from __future__ import annotations

from collections.abc import Sequence

from asn1crypto import parser as asn1_parser
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature

from digitize.i18n import _


def hole_problem(sig: EmbeddedPdfSignature, data: bytes, roots: Sequence = ()) -> str | None:
    """The one unsigned stretch of a signed revision must hold the signature and zero padding only.

    The byte range leaves out ``/Contents``; pyHanko ignores bytes after the
    CMS structure, so a change there would otherwise go unnoticed.
    """
    try:
        _start1, start, second, _length2 = (int(v) for v in sig.sig_object["/ByteRange"])
        hole = data[start:second].strip()
        if not (hole.startswith(b"<") and hole.endswith(b">")):
            return _("the unsigned part of the file is not the signature's hex string")
        blob = bytes.fromhex(hole[1:-1].decode("ascii"))
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return _("the signature's /Contents is not a clean hex string")
    used = der_length(blob)
    if used is None or any(blob[used:]):
        return _("bytes after the signature in /Contents were changed (only zero padding may follow it)")
    return _embedded_certificates_problem(blob[:used], roots)


def _embedded_certificates_problem(der: bytes, roots: Sequence = ()) -> str | None:
    """Certificates carried in the CMS are not covered by the signature: check them.

    Each link of the signer's chain inside the CMS must verify against the next
    (a self-signed top against itself), and every other certificate there must
    verify against an embedded issuer. A changed byte in an intermediate or root
    certificate inside the signature would otherwise pass, since validation
    finds the chain through the trust roots. The top of the embedded chain must
    verify too when it can be: against its own key when it is a copy of a root
    (self-issued, or sharing a trust root's name or key: a changed byte in the
    name or the key of a root's copy unhooks it from its own signature), else
    against the trust root that issued it; a top issued by no root given is left
    to the trust check.
    """
    from asn1crypto import cms
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    try:
        signed_data = cms.ContentInfo.load(der)["content"]
        certs = [x509.load_der_x509_certificate(c.chosen.dump()) for c in signed_data["certificates"] or ()]
        by_subject = {c.subject: c for c in certs}
        trusted = [x509.load_der_x509_certificate(root.dump()) for root in roots]
        on_path = _signer_path(signed_data, certs, by_subject)
        for cert in certs:
            issuer = by_subject.get(cert.issuer)
            name = cert.subject.rfc4514_string()
            if issuer is None:
                if cert in on_path:
                    issuer = _top_issuer(cert, trusted)
                    if issuer is None:
                        continue  # issued by no root given: the trust check says so
                else:
                    return _("the certificate {name} inside the signature belongs to no chain: it was changed",
                             name=name)
            try:
                cert.verify_directly_issued_by(issuer)
            except (InvalidSignature, ValueError, TypeError):
                return _("the certificate {name} inside the signature was changed", name=name)
    except (ValueError, TypeError, KeyError) as e:
        return _("the certificates inside the signature cannot be read: {error}", error=e)
    return None


def _top_issuer(cert, trusted: list):
    """What the top certificate of the embedded chain must verify against: itself when it is (a copy of)
    a root, else the trust root named as its issuer; None when no root given issued it."""
    key = _public_key_der(cert)
    if cert.issuer == cert.subject or any(
            root.subject == cert.subject or _public_key_der(root) == key for root in trusted):
        return cert
    return next((root for root in trusted if root.subject == cert.issuer), None)


def _public_key_der(cert) -> bytes | None:
    from cryptography.hazmat.primitives import serialization

    try:
        return cert.public_key().public_bytes(serialization.Encoding.DER,
                                              serialization.PublicFormat.SubjectPublicKeyInfo)
    except (ValueError, TypeError):
        return None


def _signer_path(signed_data, certs: list, by_subject: dict) -> list:
    """The signer's certificate and its issuers found among ``certs``."""
    sid = signed_data["signer_infos"][0]["sid"]
    if sid.name != "issuer_and_serial_number":
        return []
    serial = sid.chosen["serial_number"].native
    current = next((c for c in certs if c.serial_number == serial), None)
    path = []
    while current is not None and current not in path:
        path.append(current)
        current = by_subject.get(current.issuer)
    return path


def der_length(blob: bytes) -> int | None:
    """Total length of the DER element at the start of ``blob``, read by asn1crypto's parser (None if malformed)."""
    try:
        _, _, _, header, contents, trailer = asn1_parser.parse(blob, strict=False)
    except ValueError:
        return None
    return len(header) + len(contents) + len(trailer)
