"""The signing identity: the demo agency key made on first run, and loading a key.

The demo identity is a self-made root CA and an agency certificate issued by
it, both clearly marked as test material (``DEMO``, ``khóa thử nghiệm``). It
lets a new office run the whole pipeline before it has a CA-issued key; its
signatures are valid only against ``demo-ca.pem``. Its certificate's O and CN
are the demo agency's name marked ``(DEMO)``, the marks of test material are in
its OUs.

The agency a stamp names is bound to the key (:func:`resolve_agency`): by
default the signing certificate's O (else its CN); a configured
``signing.agency_name`` that is not the certificate's is refused unless
``signing.agency_name_override`` is set.

:func:`load_signer` opens a PKCS#12 file once; the result is meant to be kept
for a whole batch (re-parsing the key for every document is slow). A key on a
PKCS#11 token (a USB token of the government CA, an HSM) is described by a
:class:`TokenKey` and opened by :mod:`signing.token`.
"""

from __future__ import annotations

import fcntl
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import Signer, SimpleSigner

from digitize.errors import SigningError
from digitize.files import write_atomically
from digitize.i18n import _, format_datetime, os_error
from digitize.models import nfc
from digitize.settings import SigningSettings

CA_NAME = "DEMO digitize CA - NOT FOR PRODUCTION"
#: the agency of the demo identity when ``signing.agency_name`` is empty
DEMO_AGENCY = "UBND xã Phước Lộc (DEMO)"
#: the demo marks in Vietnamese (the O of demo identities made before the agency was bound to the key)
DEMO_ORGANIZATION = "DEMO - khóa thử nghiệm - không dùng thật"
DEMO_UNIT = "digitize demo key - NOT FOR PRODUCTION"
PKCS12_NAME = "demo-agency.p12"
PASSWORD_NAME = "demo-agency.pass"
CA_NAME_FILE = "demo-ca.pem"
CA_YEARS = 10
AGENCY_YEARS = 3
_MAX_CN = 64  # ub-common-name (RFC 5280)


@dataclass(frozen=True)
class DemoIdentity:
    """Where the demo identity's files are: key + chain, its password, the CA."""

    pkcs12: Path
    password_file: Path
    ca_cert: Path


@dataclass(frozen=True)
class LoadedSigner:
    """A signing key opened once, with what a report needs to say about it."""

    signer: Signer = field(repr=False)
    subject: str
    not_before: datetime
    not_after: datetime

    @property
    def agency(self) -> str:
        """The agency the signing certificate names: its O, else its CN (see :func:`certificate_agency`)."""
        return certificate_agency(self.signer.signing_cert)


@dataclass(frozen=True)
class TokenKey:
    """A key on a PKCS#11 token: the module, the token, the key and certificate labels, the PIN."""

    module: Path
    token_label: str | None
    key_label: str
    cert_label: str
    pin: str | None = field(repr=False)


@dataclass(frozen=True)
class SigningIdentity:
    """The key to sign with (a PKCS#12 file or a token), its secret, and the roots ``verify`` trusts."""

    pkcs12: Path | None
    password: bytes | None = field(repr=False)
    trust_roots: tuple[Path, ...]
    demo: bool
    token: TokenKey | None = None


def resolve_identity(settings: SigningSettings) -> SigningIdentity:
    """The configured PKCS#11 token key or PKCS#12 key, else the demo identity (made on first use).

    With the demo identity, the demo CA is trusted in addition to
    ``settings.trust_roots``. Secrets (password, PIN) come from the settings'
    value or from a secret file, never from anywhere else.
    """
    if settings.pkcs11_module is not None:
        return SigningIdentity(None, None, settings.trust_roots, demo=False, token=_token_key(settings))
    if settings.pkcs12 is None:
        if settings.demo_dir is None:
            raise SigningError(_("no signing key configured and no folder for the demo key (signing.demo_dir)"))
        demo = ensure_demo_identity(settings.demo_dir, settings.agency_name or DEMO_AGENCY)
        password = read_password(None, demo.password_file)
        return SigningIdentity(demo.pkcs12, password, (demo.ca_cert, *settings.trust_roots), demo=True)
    password = read_password(settings.pkcs12_password, settings.pkcs12_password_file)
    return SigningIdentity(settings.pkcs12, password, settings.trust_roots, demo=False)


def _token_key(settings: SigningSettings) -> TokenKey:
    if not settings.pkcs11_key_label:
        raise SigningError(_("signing.pkcs11_module is set but signing.pkcs11_key_label is not"))
    pin = read_password(settings.pkcs11_pin, settings.pkcs11_pin_file)
    return TokenKey(
        module=settings.pkcs11_module,
        token_label=settings.pkcs11_token_label,
        key_label=settings.pkcs11_key_label,
        cert_label=settings.pkcs11_cert_label or settings.pkcs11_key_label,
        pin=pin.decode("utf-8") if pin is not None else None,
    )


def ensure_demo_identity(demo_dir: Path, agency_name: str) -> DemoIdentity:
    """Return the demo identity in ``demo_dir``, creating it on the first call.

    Later calls reuse the files as they are (the agency name of the first call
    stays in the certificate). A half-made identity (key without password or
    CA) is refused rather than overwritten, so no key is ever lost.
    """
    identity = _demo_paths(demo_dir)
    try:
        demo_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        with _locked(demo_dir / ".demo-identity.lock"):
            if identity.pkcs12.exists():
                _check_complete(identity)
                return identity
            _create_demo_identity(identity, nfc(agency_name))
    except OSError as e:
        raise SigningError(_("could not create the demo signing identity in {demo_dir}: {error}",
                             demo_dir=demo_dir, error=os_error(e))) from e
    return identity


def read_password(password: str | None, password_file: Path | None) -> bytes | None:
    """The PKCS#12 password as bytes: given directly, else the file's first line, else None."""
    if password is not None:
        return password.encode("utf-8")
    if password_file is None:
        return None
    try:
        text = password_file.read_text(encoding="utf-8")
    except OSError as e:
        raise SigningError(_("could not read the password file {password_file}: {error}",
                             password_file=password_file, error=os_error(e))) from e
    return text.splitlines()[0].encode("utf-8") if text else b""


def load_signer(pkcs12: Path, password: bytes | None, *, now: datetime | None = None) -> LoadedSigner:
    """Open the PKCS#12 key once and check that its certificate is valid ``now``.

    Raises :class:`SigningError` for an unreadable file, a wrong password, or a
    certificate that has expired or is not yet valid.
    """
    try:
        data = pkcs12.read_bytes()
    except OSError as e:
        raise SigningError(_("could not read the signing key {pkcs12}: {error}", pkcs12=pkcs12,
                             error=os_error(e))) from e
    try:
        loaded = SimpleSigner.load_pkcs12_data(data, other_certs=(), passphrase=password)
    except ValueError as e:
        raise SigningError(
            _("could not open the signing key {pkcs12}: wrong password or not a PKCS#12 file", pkcs12=pkcs12),
            hint=_("check signing.pkcs12_password_file"),
        ) from e
    signer = KeptKeySigner(signing_key=loaded.signing_key, signing_cert=loaded.signing_cert,
                           cert_registry=loaded.cert_registry, signature_mechanism=loaded.signature_mechanism)
    return describe_signer(signer, now=now)


class KeptKeySigner(SimpleSigner):
    """A :class:`SimpleSigner` that parses its private key once.

    pyHanko's ``SimpleSigner.sign_raw`` parses the DER key again for every
    signature (20-190 ms of an RSA key's checks, most of a B-B signature's own
    time); RSA (PKCS#1 v1.5, PSS) and ECDSA keys are parsed on first use here and
    kept. Other kinds of key go through pyHanko as before.
    """

    def sign_raw(self, data: bytes, digest_algorithm: str) -> bytes:
        from cryptography.hazmat.primitives.asymmetric.ec import ECDSA, EllipticCurvePrivateKey
        from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
        from pyhanko_certvalidator.util import get_pyca_cryptography_hash, process_pss_params

        mechanism = self.get_signature_mechanism_for_digest(digest_algorithm)
        try:
            algorithm = mechanism.signature_algo
        except ValueError:
            algorithm = mechanism["algorithm"].native
        key = self._private_key()
        if algorithm == "rsassa_pkcs1v15" and isinstance(key, RSAPrivateKey):
            return key.sign(data, PKCS1v15(), get_pyca_cryptography_hash(digest_algorithm))
        if algorithm == "rsassa_pss" and isinstance(key, RSAPrivateKey):
            padding, hash_algorithm = process_pss_params(mechanism["parameters"])
            return key.sign(data, padding, hash_algorithm)
        if algorithm == "ecdsa" and isinstance(key, EllipticCurvePrivateKey):
            return key.sign(data, signature_algorithm=ECDSA(get_pyca_cryptography_hash(digest_algorithm)))
        return super().sign_raw(data, digest_algorithm)

    def _private_key(self):
        key = self.__dict__.get("_kept_key")
        if key is None:  # two threads may both parse it once: the same key either way
            key = self.__dict__["_kept_key"] = serialization.load_der_private_key(self.signing_key.dump(), None)
        return key


def describe_signer(signer: Signer, *, now: datetime | None = None) -> LoadedSigner:
    """Wrap an opened pyHanko signer, refusing a certificate not valid ``now``."""
    cert = x509.load_der_x509_certificate(signer.signing_cert.dump())
    _check_validity(cert, now or datetime.now(timezone.utc))
    return LoadedSigner(
        signer=signer,
        subject=readable_name(cert.subject),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
    )


def certificate_agency(cert) -> str:
    """The agency an (asn1crypto) certificate names: its O, else its CN; "" if neither.

    A demo certificate made before the agency was bound to the key has the demo
    marks as its O: its CN is the agency then.
    """
    names = certificate_names(cert)
    organization = names.get("organization_name", "")
    if organization and organization != nfc(DEMO_ORGANIZATION):
        return organization
    return names.get("common_name", "") or organization


def certificate_names(cert) -> dict[str, str]:
    """The subject's O and CN of an (asn1crypto) certificate, NFC, stripped (several values joined)."""
    subject = cert.subject.native
    names = {}
    for key in ("organization_name", "common_name"):
        value = subject.get(key, "")
        if isinstance(value, (list, tuple)):
            value = ", ".join(value)
        names[key] = nfc(str(value)).strip()
    return names


def same_agency(a: str, b: str) -> bool:
    """Whether two agency names are the same name (NFC, case and runs of spaces ignored)."""
    def norm(text: str) -> str:
        return " ".join(nfc(text).split()).casefold()

    return bool(norm(a)) and norm(a) == norm(b)


def resolve_agency(configured: str, loaded: LoadedSigner, *, override: bool = False, demo: bool = False) -> str:
    """The agency the stamp names: the signing certificate's (O, else CN) unless one is configured.

    A configured name must be the certificate's O or CN (for the demo identity,
    also the name it was made from, before ``(DEMO)`` was added); then the
    certificate's own spelling of that name is stamped. Another name is refused
    (:class:`SigningError`, exit 9) unless ``override`` is set.
    """
    cert = loaded.signer.signing_cert
    agency = certificate_agency(cert)
    if not configured.strip():
        if not agency:
            raise SigningError(
                _("the signing certificate {subject} names no organisation (O) or common name (CN) to print as the "
                  "agency",
                  subject=loaded.subject),
                hint=_("set signing.agency_name and signing.agency_name_override = true"),
            )
        return agency
    names = [n for n in certificate_names(cert).values() if n]
    candidates = [configured, demo_common_name(configured)] if demo else [configured]
    for name in names:
        if any(same_agency(c, name) for c in candidates):
            return name  # the certificate's spelling of the name chosen (its O or its CN)
    if override:
        return nfc(configured).strip()
    hint = _("leave signing.agency_name empty to print the certificate's name, or set "
             "signing.agency_name_override = true if the stamp must name another body")
    if demo:
        hint = _("{hint}; or delete the demo key folder (signing.demo_dir) to make a demo key for that name",
                 hint=hint)
    raise SigningError(
        _("signing.agency_name {agency!r} is not the agency of the signing key ({subject}): the stamp would name a "
          "body the key does not belong to",
          agency=nfc(configured).strip(), subject=loaded.subject),
        hint=hint,
    )


def readable_name(name: x509.Name) -> str:
    """``CN=..., OU=..., O=..., C=VN``: most specific first, Vietnamese left as is."""
    parts = [f"{a.rfc4514_attribute_name}={a.value}" for a in reversed(list(name))]
    return ", ".join(parts)


def _check_validity(cert: x509.Certificate, now: datetime) -> None:
    if now > cert.not_valid_after_utc:
        raise SigningError(
            _("signing certificate {subject} expired on {day}",
              subject=readable_name(cert.subject), day=format_datetime(cert.not_valid_after_utc, seconds=True)),
            hint=_("renew the agency certificate"),
        )
    if now < cert.not_valid_before_utc:
        raise SigningError(
            _("signing certificate {subject} is not valid before {day}",
              subject=readable_name(cert.subject), day=format_datetime(cert.not_valid_before_utc, seconds=True)),
            hint=_("check the machine's clock"),
        )


def _demo_paths(demo_dir: Path) -> DemoIdentity:
    return DemoIdentity(
        pkcs12=demo_dir / PKCS12_NAME,
        password_file=demo_dir / PASSWORD_NAME,
        ca_cert=demo_dir / CA_NAME_FILE,
    )


def _check_complete(identity: DemoIdentity) -> None:
    missing = [p.name for p in (identity.password_file, identity.ca_cert) if not p.exists()]
    if missing:
        raise SigningError(
            _("the demo identity in {parent} is incomplete (missing {names})",
              parent=identity.pkcs12.parent, names=', '.join(missing)),
            hint=_("delete that folder to make a new demo key"),
        )


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive lock so two workers starting at once make one identity."""
    with open(lock_path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _create_demo_identity(identity: DemoIdentity, agency_name: str) -> None:
    now = datetime.now(timezone.utc) - timedelta(minutes=5)  # tolerate small clock skew
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_cert = _make_ca_cert(ca_key, now)
    agency_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    agency_cert = _make_agency_cert(agency_key, agency_name, ca_key, ca_cert, now)
    password = secrets.token_urlsafe(24)
    p12 = pkcs12.serialize_key_and_certificates(
        name=b"demo-agency",
        key=agency_key,
        cert=agency_cert,
        cas=[ca_cert],
        encryption_algorithm=serialization.BestAvailableEncryption(password.encode("ascii")),
    )
    write_atomically(identity.ca_cert, ca_cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    write_atomically(identity.password_file, (password + "\n").encode("ascii"), mode=0o600)
    write_atomically(identity.pkcs12, p12, mode=0o600)  # last: its presence means "complete"


def _make_ca_cert(key: rsa.RSAPrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_UNIT),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEMO_ORGANIZATION),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    ])
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _make_agency_cert(
    key: rsa.RSAPrivateKey,
    agency_name: str,
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    now: datetime,
) -> x509.Certificate:
    agency = demo_common_name(agency_name)  # the agency the stamp names: O (and CN) of the certificate
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, agency),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_UNIT),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEMO_ORGANIZATION),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, agency),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    ])
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * AGENCY_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def demo_common_name(agency_name: str) -> str:
    """The demo certificate's CN: the agency's name marked DEMO, at most 64 characters."""
    name = nfc(agency_name).strip()
    if "DEMO" not in name.upper():
        name = f"{name} (DEMO)"
    if len(name) > _MAX_CN:
        name = name[: _MAX_CN - 7].rstrip() + " (DEMO)"
    return name


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,  # nonRepudiation
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )
