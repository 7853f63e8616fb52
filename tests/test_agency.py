"""The agency a stamp names is bound to the signing key (issue 12, point 4).

A real PKCS#12 key of the Certomancer test PKI (its certificate: O = CN =
"UBND xã Phước Lộc"), and the demo identity.
"""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pyhanko.sign.signers import SimpleSigner
from pyhanko_certvalidator.registry import SimpleCertificateStore

from digitize.errors import ExitCode, SigningError
from digitize.settings import SigningSettings
from signing.identity import DEMO_AGENCY, DEMO_ORGANIZATION, LoadedSigner, certificate_agency, resolve_agency
from signing.session import open_signing_session
from signing.sign import sign_pdf
from signing.stamp_check import read_stamp
from signing.verify import verify_pdf
from tests.signing_helpers import make_pdfa, start_test_pki

pytestmark = pytest.mark.tools  # pdftoppm places the stamp

CERT_AGENCY = "UBND xã Phước Lộc"
OTHER = "UBND xã Nhơn Bình"
PASSWORD = "mật-khẩu thử"


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("agency")


@pytest.fixture(scope="module")
def pki(folder):
    with start_test_pki(folder / "pki") as running:
        yield running


@pytest.fixture(scope="module")
def settings(pki, folder) -> SigningSettings:
    """The agency's PKCS#12 key, signing.agency_name left unset (the default), B-B."""
    return SigningSettings(
        pkcs12=pki.write_p12("agency", PASSWORD.encode()),
        pkcs12_password=PASSWORD,
        trust_roots=(pki.root_pem,),
        pades_level="B-B",
        demo_dir=folder / "keys",
    )


@pytest.fixture(scope="module")
def source(folder) -> Path:
    return make_pdfa(folder / "scan.pdf")


def _open(settings, folder, **changes):
    return open_signing_session(dataclasses.replace(settings, **changes), font_cache_dir=folder / "fonts")


def test_default_settings_stamp_the_certificates_agency_not_the_demo_name(settings, source, folder):
    assert SigningSettings().agency_name == ""
    with _open(settings, folder) as session:
        assert session.agency_name == CERT_AGENCY
        assert CERT_AGENCY in session.note
        result = session.sign(source, folder / "default.pdf")
        report = session.verify(result.path)
    assert read_stamp(result.path.read_bytes()).lines[1] == CERT_AGENCY
    assert report.ok, report.to_dict()
    plain = verify_pdf(result.path, [settings.trust_roots[0]])  # as `digitize verify` sees it
    assert plain.check("stamp").ok, plain.check("stamp").detail


def test_an_agency_that_is_not_the_certificates_is_refused_when_the_key_is_opened(settings, folder):
    with pytest.raises(SigningError) as info:
        _open(settings, folder, agency_name=OTHER)
    assert info.value.exit_code == ExitCode.signing == 9
    assert OTHER in info.value.message and CERT_AGENCY in info.value.message
    assert "agency_name_override" in info.value.hint
    assert PASSWORD not in str(info.value)


def test_the_refusal_of_another_agency_says_what_to_do_in_vietnamese(settings, folder):
    from digitize.i18n import using

    with using("vi"), pytest.raises(SigningError) as info:
        _open(settings, folder, agency_name=OTHER)
    assert info.value.hint.startswith("để trống signing.agency_name để in tên ghi trong chứng thư chữ ký số")
    assert "leave" not in info.value.hint


def test_the_certificates_name_configured_in_other_case_and_spacing_is_accepted(settings, source, folder):
    with _open(settings, folder, agency_name="  ubnd  XÃ phước lộc ") as session:
        assert session.agency_name == CERT_AGENCY  # the certificate's spelling is printed


def test_a_configured_common_name_is_stamped_rather_than_the_organisation():
    names = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "Bộ phận Một cửa xã Phước Lộc"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, CERT_AGENCY),
    ])
    loaded = _loaded_with_subject(names)
    assert resolve_agency("", loaded) == CERT_AGENCY  # O first
    assert resolve_agency("bộ phận một cửa xã phước lộc", loaded) == "Bộ phận Một cửa xã Phước Lộc"
    with pytest.raises(SigningError):
        resolve_agency(OTHER, loaded)
    assert resolve_agency(OTHER, loaded, override=True) == OTHER


def _loaded_with_subject(name: x509.Name) -> LoadedSigner:
    """A LoadedSigner (not for signing) whose certificate has the subject ``name``."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(2).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    signer = SimpleSigner(signing_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
                          signing_key=None, cert_registry=SimpleCertificateStore())
    return LoadedSigner(signer=signer, subject=name.rfc4514_string(), not_before=now, not_after=now)


def test_override_prints_the_configured_agency_and_only_a_verify_told_so_accepts_it(settings, source, folder):
    with _open(settings, folder, agency_name=OTHER, agency_name_override=True) as session:
        assert session.agency_name == OTHER
        result = session.sign(source, folder / "override.pdf")
        assert session.verify(result.path).ok
    plain = verify_pdf(result.path, [settings.trust_roots[0]])
    assert not plain.check("stamp").ok
    assert f"names {OTHER!r} but the signing certificate is of {CERT_AGENCY}" in plain.check("stamp").detail


def test_verify_fails_a_stamp_naming_another_agency_than_the_signing_key(settings, source, folder):
    with _open(settings, folder) as session:
        forged = sign_pdf(source, folder / "forged.pdf", session._loaded, agency_name=OTHER,
                          font_cache_dir=folder / "fonts")
    report = verify_pdf(forged.path, [settings.trust_roots[0]])
    assert not report.ok
    stamp = report.check("stamp")
    assert not stamp.ok and "not the key's" in stamp.detail
    assert report.check("integrity").ok and report.check("trust").ok  # only the stamp is wrong


def test_the_demo_identity_names_the_demo_agency_in_its_certificate(settings, source, folder):
    demo = dataclasses.replace(settings, pkcs12=None, pkcs12_password=None, trust_roots=())
    with _open(demo, folder) as session:
        assert session.demo and session.agency_name == DEMO_AGENCY
        assert f"O={DEMO_AGENCY}" in session.signer_name and f"CN={DEMO_AGENCY}" in session.signer_name
        result = session.sign(source, folder / "demo.pdf")
        assert session.verify(result.path).ok
    assert read_stamp(result.path.read_bytes()).lines[1] == DEMO_AGENCY
    with pytest.raises(SigningError) as info:
        _open(demo, folder, agency_name=OTHER)
    assert "signing.demo_dir" in info.value.hint


def _legacy_demo_certificate() -> asn1_x509.Certificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, "UBND xã Phước Lộc (DEMO)"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, DEMO_ORGANIZATION),
    ])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def test_a_demo_key_made_before_keeps_stamping_its_agency_from_the_common_name():
    assert certificate_agency(_legacy_demo_certificate()) == "UBND xã Phước Lộc (DEMO)"
