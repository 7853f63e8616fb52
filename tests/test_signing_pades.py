"""PAdES levels, revocation, timestamps, PKCS#11 and renewal against a real test PKI.

Certomancer's test PKI (tests/pki/certomancer.yml) runs on 127.0.0.1 for the
whole module: the timestamp authority, the OCSP responder and the CRLs are
real HTTP round trips. SoftHSM2 gives a real PKCS#11 token.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pikepdf
import pytest
from pyhanko.sign.signers import SimpleSigner

from digitize.errors import ConfigError, SigningError, TimestampUnavailableError
from digitize.settings import SigningSettings, load_settings
from signing.identity import LoadedSigner
from signing.pdfa_check import font_problems, unsigned_revision
from signing.renew import renew_timestamp
from signing.session import open_signing_session
from signing.sign import sign_pdf
from signing.stamp_check import read_stamp
from signing.verify import verify_pdf
from tests.cli_fixtures import ENGLISH
from tests.signing_helpers import (
    TOKEN_LABEL,
    TOKEN_PIN,
    add_annotation_incrementally,
    broken_tsa,
    change_metadata_incrementally,
    cut_back_to_signed_revision,
    flip_byte_in_signed_range,
    make_pdfa,
    make_plain_pdf,
    make_softhsm_token,
    softhsm_module,
    start_test_pki,
    strip_dss_incrementally,
)

AGENCY = "UBND xã Phước Lộc"
PASSWORD = "mật-khẩu thử"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pades")


@pytest.fixture(scope="module")
def pki(folder):
    with start_test_pki(folder / "pki") as running:
        yield running


@pytest.fixture(scope="module")
def settings(pki, folder) -> SigningSettings:
    """The agency key as PKCS#12, trusting the test root, with the test TSA; B-LTA."""
    return SigningSettings(
        pkcs12=pki.write_p12("agency", PASSWORD.encode()),
        pkcs12_password=PASSWORD,
        agency_name=AGENCY,
        trust_roots=(pki.root_pem,),
        pades_level="B-LTA",
        tsa_url=pki.tsa_url,
        tsa_retries=1,
        tsa_backoff_seconds=0.05,
        demo_dir=folder / "keys",
    )


@pytest.fixture(scope="module")
def source(folder) -> Path:
    return make_pdfa(folder / "scan.pdf")


@pytest.fixture(scope="module")
def session(settings, folder):
    with open_signing_session(settings, font_cache_dir=folder / "fonts") as opened:
        yield opened


@pytest.fixture(scope="module")
def lta(session, source, folder):
    return session.sign(source, folder / "lta.pdf")


def _session_at(settings, level, folder):
    return open_signing_session(dataclasses.replace(settings, pades_level=level), font_cache_dir=folder / "fonts")


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


# --- levels -------------------------------------------------------------------------


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_validates_and_reaches_its_level(settings, source, folder, level):
    with _session_at(settings, level, folder) as s:
        result = s.sign(source, folder / f"{level}.pdf")
        report = s.verify(result.path, expected_sha256=result.sha256)
    assert result.pades_level == level
    assert report.ok, report.to_dict()
    assert report.check("pades_level").detail == f"{level} reached"
    if level != "B-B":
        assert "signature timestamp" in report.check("timestamps").detail
    if level in ("B-LT", "B-LTA"):
        assert "embedded in the DSS" in report.check("revocation").detail
    if level == "B-LTA":
        assert "document timestamp" in report.check("timestamps").detail


@pytest.mark.parametrize(("level", "validations"), [("B-B", 1), ("B-T", 2)])
def test_a_signature_is_validated_twice_only_where_its_timestamp_trust_depends_on_the_revocation_mode(
        settings, source, folder, monkeypatch, level, validations):
    """The session verifies hard-fail with fetching on; the structural checks were made soft-fail without
    fetching. A B-B signature's structure does not depend on that: one validation. A B-T signature's
    timestamp is trusted or not by the mode: validated for its structure and again for its trust."""
    import signing.verify

    with _session_at(settings, level, folder) as s:
        result = s.sign(source, folder / f"validated-{level}.pdf")
        counted, validate = [], signing.verify.validate_pdf_signature
        monkeypatch.setattr(signing.verify, "validate_pdf_signature",
                            lambda *a, **k: counted.append(1) or validate(*a, **k))
        report = s.verify(result.path, expected_sha256=result.sha256)
    assert report.ok, report.to_dict()
    assert "OCSP/CRL fetched online" in report.check("revocation").detail
    assert len(counted) == validations


def test_auto_level_is_b_lta_with_a_tsa_and_b_b_without(settings, folder):
    with _session_at(settings, "auto", folder) as s:
        assert s.level == "B-LTA"
    no_tsa = dataclasses.replace(settings, pades_level="auto", tsa_url=None)
    with open_signing_session(no_tsa, font_cache_dir=folder / "fonts") as s:
        assert s.level == "B-B" and "no timestamp authority" in s.note


def test_demo_identity_signs_b_b_and_says_so(folder, source):
    demo = SigningSettings(demo_dir=folder / "demo-keys", agency_name=AGENCY)
    with open_signing_session(demo, font_cache_dir=folder / "fonts") as s:
        result = s.sign(source, folder / "demo.pdf")
        assert s.demo and "demo key" in s.note and "B-B" in s.note
        assert s.verify(result.path).ok
    assert result.pades_level == "B-B"


def test_one_session_signs_a_batch_with_one_key(session, source, folder):
    results = [session.sign(source, folder / f"batch-{i}.pdf") for i in range(3)]
    assert len({r.sha256 for r in results}) == 3
    assert all(session.verify(r.path).ok for r in results)
    assert session.signer_name.startswith("CN=UBND xã Phước Lộc")


def test_level_above_b_b_without_tsa_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="tsa_url"):
        load_settings(environ={"DIGITIZE_SIGNING__PADES_LEVEL": "B-LT"}, base_dir=tmp_path)


# --- tampering -----------------------------------------------------------------------


def test_flipped_byte_fails_verify(lta, folder, session):
    tampered = flip_byte_in_signed_range(lta.path, folder / "lta-flipped.pdf")
    report = session.verify(tampered, expected_sha256=lta.sha256)
    assert not report.ok
    assert not report.check("integrity").ok
    assert not report.check("archive_sha256").ok


def test_every_single_flipped_byte_in_the_signature_hole_fails_verify(lta, folder, session):
    data = lta.path.read_bytes()
    start = data.index(b"/Contents <") + len(b"/Contents <")
    for offset in (start + 200, start + 2000, len(data) // 4):
        changed = bytearray(data)
        changed[offset] = ord("1") if changed[offset] != ord("1") else ord("2")
        path = folder / "hole.pdf"
        path.write_bytes(bytes(changed))
        assert not session.verify(path).ok, offset


def test_incremental_edit_after_signing_fails_verify(lta, folder, session):
    edited = _copy(lta.path, folder / "lta-edited.pdf")
    add_annotation_incrementally(edited)
    report = session.verify(edited)
    assert not report.ok
    assert report.check("integrity").ok and report.check("trust").ok  # the AdES verdict alone would pass
    assert not report.check("modifications").ok


_XMP_ID = b'xmlns:dc="http://purl.org/dc/elements/1.1/" dc:identifier="000.31.25.H08-261120-0009-KQ1"'
POST_SIGNING_CHANGES = {
    "info-title": dict(info={"/Title": "Giấy phép của người khác"}),
    "info-keywords": dict(info={"/Keywords": "document=000.31.25.H08-261120-0009-KQ1"}),
    "xmp-title": dict(xmp=("Bản sao thử</rdf:li>".encode(), "Giấy phép khác</rdf:li>".encode())),
    "xmp-identifier-new-object": dict(xmp=(b'pdfaid:part="2"', b'pdfaid:part="2" ' + _XMP_ID), new_xmp_object=True),
    "xmp-pdfa-claim": dict(xmp=(b'pdfaid:conformance="B"', b'pdfaid:conformance="A"')),
}


@pytest.mark.parametrize("change", sorted(POST_SIGNING_CHANGES))
def test_metadata_changed_after_b_lta_signing_fails_modifications(lta, folder, session, change):
    edited = _copy(lta.path, folder / f"lta-{change}.pdf")
    change_metadata_incrementally(edited, **POST_SIGNING_CHANGES[change])
    report = session.verify(edited)
    assert not report.ok
    assert report.check("integrity").ok and report.check("trust").ok  # pyHanko's default policy passed these
    modifications = report.check("modifications")
    assert not modifications.ok and "changed after signing" in modifications.detail, modifications.detail


def test_the_writer_own_dates_and_producer_after_b_lta_signing_are_accepted(lta, folder, session):
    edited = _copy(lta.path, folder / "lta-dates.pdf")
    change_metadata_incrementally(edited, info={"/ModDate": "D:20270101000000Z", "/Producer": "pyHanko 0.38.0"},
                                  xmp=(b'xmp:MetadataDate="20', b'xmp:MetadataDate="19'))
    report = session.verify(edited)
    assert report.check("modifications").ok, report.check("modifications").detail


# --- certificates --------------------------------------------------------------------


def test_revoked_signer_is_refused_at_signing(pki, settings, folder):
    revoked = dataclasses.replace(settings, pkcs12=pki.write_p12("revoked", PASSWORD.encode()))
    with pytest.raises(SigningError, match="revoked"):
        open_signing_session(revoked, font_cache_dir=folder / "fonts")


def test_signature_of_a_revoked_signer_fails_verify(pki, settings, source, folder):
    key = SimpleSigner.load_pkcs12_data(pki.write_p12("revoked", b"pw").read_bytes(), (), b"pw")
    loaded = LoadedSigner(signer=key, subject="revoked", not_before=datetime.now(), not_after=datetime.now())
    result = sign_pdf(source, folder / "revoked.pdf", loaded, agency_name=AGENCY, font_cache_dir=folder / "fonts")
    report = verify_pdf(result.path, settings.trust_roots, fetch_revocation=True, revocation_mode="hard-fail")
    assert not report.ok
    assert not report.check("revocation").ok and "revoked" in report.check("revocation").detail
    assert not report.check("trust").ok
    assert report.check("integrity").ok


def test_expired_signer_is_refused_at_signing(pki, settings, folder):
    expired = dataclasses.replace(settings, pkcs12=pki.write_p12("expired", PASSWORD.encode()))
    with pytest.raises(SigningError, match="expired on 2022-01-01"):
        open_signing_session(expired, font_cache_dir=folder / "fonts")


def test_signature_made_before_expiry_is_reported_expired(pki, settings, source, folder):
    key = SimpleSigner.load_pkcs12_data(pki.write_p12("expired", b"pw").read_bytes(), (), b"pw")
    loaded = LoadedSigner(signer=key, subject="expired", not_before=datetime.now(), not_after=datetime.now())
    when = datetime(2021, 6, 1, 9, 0, tzinfo=timezone(timedelta(hours=7)))  # while it was valid
    result = sign_pdf(source, folder / "expired.pdf", loaded, when=when,
                      font_cache_dir=folder / "fonts")
    report = verify_pdf(result.path, settings.trust_roots, fetch_revocation=True, revocation_mode="hard-fail")
    assert not report.ok
    assert "expired on 2022-01-01" in report.check("trust").detail
    assert report.check("integrity").ok and report.check("modifications").ok and report.check("stamp").ok


def test_wrong_pkcs12_password_is_refused_without_showing_it(settings, folder):
    wrong = dataclasses.replace(settings, pkcs12_password="sai-mật-khẩu")
    with pytest.raises(SigningError, match="wrong password") as caught:
        open_signing_session(wrong, font_cache_dir=folder / "fonts")
    assert "sai-mật-khẩu" not in str(caught.value)


# --- the timestamp authority ----------------------------------------------------------


def test_tsa_down_is_retried_with_backoff_then_transient_and_nothing_written(settings, source, folder):
    with broken_tsa() as (url, hits):
        down = dataclasses.replace(settings, tsa_url=url, tsa_retries=2, tsa_backoff_seconds=0.1, pades_level="B-T")
        with open_signing_session(down, font_cache_dir=folder / "fonts") as s:
            with pytest.raises(TimestampUnavailableError) as caught:
                s.sign(source, folder / "never.pdf")
    assert caught.value.transient
    assert caught.value.message.endswith("(3 tries)")  # the first try and 2 retries, said to the operator
    assert len(hits) >= 3  # first try + 2 retries (pyHanko may ask twice per try)
    gaps = [b - a for a, b in zip(hits, hits[1:], strict=False)]
    assert max(gaps) >= 0.2  # the second backoff is twice the first
    assert not (folder / "never.pdf").exists()


# --- the stamp and PDF/A ---------------------------------------------------------------


def test_stamp_text_read_back_matches_the_decree_30_form(lta):
    stamp = read_stamp(lta.path.read_bytes())
    assert stamp.lines == ("SAO Y", AGENCY, lta.signing_time.isoformat())
    assert stamp.lines[2].endswith("+07:00")
    assert stamp.font_sizes == {10.0} and not stamp.has_image and not stamp.has_colour


def test_stamp_check_names_a_different_agency(lta, session):
    report = verify_pdf(lta.path, session._identity.trust_roots, agency_name="UBND xã Khác")
    assert not report.check("stamp").ok and "UBND xã Khác" in report.check("stamp").detail


def test_pdfa_check_passes_after_signing_at_b_lta(lta, session):
    report = session.verify(lta.path)
    assert report.check("pdfa").ok, report.check("pdfa").detail
    original = unsigned_revision(lta.path.read_bytes())
    assert original.rstrip().endswith(b"%%EOF") and len(original) < lta.path.stat().st_size


def test_pdfa_check_catches_widths_in_font_units(lta):
    with pikepdf.open(lta.path) as pdf:
        font = pdf.pages[0].Annots[0].AP.N.Resources.Font.F1
        assert font_problems(font) == []
        cid_font = font.DescendantFonts[0]
        cid_font.W = pikepdf.Array([v if isinstance(v, int) else pikepdf.Array([float(w) * 2.048 for w in v])
                                    for v in cid_font.W])
        assert any("/W" in p for p in font_problems(font))


def test_a_pdf_that_is_not_pdfa_is_signed_but_reported(session, folder):
    plain = make_plain_pdf(folder / "plain.pdf")
    result = session.sign(plain, folder / "plain-signed.pdf")
    report = session.verify(result.path)
    assert report.check("integrity").ok and report.check("pades_level").ok
    assert not report.check("pdfa").ok and "before signing is not PDF/A-2b" in report.check("pdfa").detail


# --- PKCS#11 (SoftHSM2) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def token_settings(pki, settings, folder):
    if softhsm_module() is None or shutil.which("softhsm2-util") is None:
        pytest.skip("SoftHSM2 is not installed (apt-get install softhsm2)")
    pytest.importorskip("pkcs11", reason="python-pkcs11 is not installed (pip install 'pyhanko[pkcs11]')")
    module = make_softhsm_token(folder / "softhsm", pki)
    pin_file = folder / "token.pin"
    pin_file.write_text(TOKEN_PIN + "\n")
    return dataclasses.replace(
        settings, pkcs12=None, pkcs12_password=None, pkcs11_module=module, pkcs11_token_label=TOKEN_LABEL,
        pkcs11_key_label="agency", pkcs11_pin_file=pin_file,
    )


def test_pkcs11_token_on_softhsm2_signs_b_lta(token_settings, source, folder):
    with open_signing_session(token_settings, font_cache_dir=folder / "fonts") as s:
        results = [s.sign(source, folder / f"token-{i}.pdf") for i in range(2)]
        reports = [s.verify(r.path) for r in results]
    assert all(r.ok for r in reports), [r.to_dict() for r in reports]
    assert reports[0].check("pades_level").detail == "B-LTA reached"
    assert "UBND xã Phước Lộc" in results[0].signer


def test_wrong_pin_is_refused_without_showing_it(token_settings, folder):
    wrong = dataclasses.replace(token_settings, pkcs11_pin="999999", pkcs11_pin_file=None)
    with pytest.raises(SigningError, match="wrong PIN") as caught:
        open_signing_session(wrong, font_cache_dir=folder / "fonts")
    assert "999999" not in str(caught.value)


# --- renewal --------------------------------------------------------------------------


def test_renew_adds_a_fresh_archive_timestamp_and_still_verifies(lta, pki, settings, session, folder):
    newer_tsa = dataclasses.replace(settings, tsa_url=pki.tsa2_url)
    renewed = renew_timestamp(lta.path, folder / "renewed.pdf", newer_tsa)
    assert renewed.document_timestamps == 2
    assert renewed.path.read_bytes().startswith(lta.path.read_bytes())  # an incremental update
    report = session.verify(renewed.path, expected_sha256=renewed.sha256)
    assert report.ok, report.to_dict()
    assert report.check("timestamps").detail.count("document timestamp") == 2
    assert report.check("modifications").ok  # the strict diff policy accepts a genuine renewal
    assert "provable until 2044-01-01" in report.check("renewal").detail
    assert "provable until 2040-01-01" in session.verify(lta.path).check("renewal").detail


def test_verify_fails_renewal_when_the_newest_timestamp_uses_an_algorithm_past_its_sunset(lta, settings):
    from datetime import date

    fine = verify_pdf(lta.path, settings.trust_roots, fetch_revocation=False)
    assert fine.check("renewal").ok
    sunset = verify_pdf(lta.path, settings.trust_roots, fetch_revocation=False,
                        algorithm_sunsets={"sha256": date(2026, 1, 1)})
    assert not sunset.check("renewal").ok and "sha256 is past its sunset on 2026-01-01" in sunset.check("renewal").detail


def test_renewal_with_a_tsa_certificate_that_does_not_outlive_the_old_one_is_refused(lta, settings, folder):
    with pytest.raises(SigningError, match="would gain nothing: the new timestamp's chain ends 2040-01-01"):
        renew_timestamp(lta.path, folder / "renewed-same-tsa.pdf", settings)  # the same TSA certificate
    assert not (folder / "renewed-same-tsa.pdf").exists()


def test_renewal_is_due_within_a_year_of_the_tsa_chain_expiry_or_past_an_algorithm_sunset(lta, pki):
    from asn1crypto import x509 as asn1_x509

    from signing.renew import parse_sunsets, renewal_need

    data = lta.path.read_bytes()
    roots = [asn1_x509.Certificate.load(pki.cert_der("root"))]
    today = renewal_need(data, roots)
    assert not today.due and today.provable_until.date().isoformat() == "2040-01-01"
    late = renewal_need(data, roots, now=datetime(2039, 3, 1, tzinfo=timezone.utc))
    assert late.due and "less than 365 days" in late.reason
    sunset = renewal_need(data, roots, sunsets=parse_sunsets(["sha256=2026-01-01"]))
    assert sunset.due and "sha256, past its sunset on 2026-01-01" in sunset.reason
    with pytest.raises(ConfigError, match="algorithm=YYYY-MM-DD"):
        parse_sunsets(["sha1 2020"])


def test_renew_refuses_a_file_that_is_not_b_lta(settings, source, folder):
    with _session_at(settings, "B-T", folder) as s:
        bt = s.sign(source, folder / "bt-only.pdf")
    with pytest.raises(SigningError, match="not PAdES B-LTA"):
        renew_timestamp(bt.path, folder / "bt-renewed.pdf", settings)


# --- the commands ---------------------------------------------------------------------


def _digitize(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH | env
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=120)


def test_sign_verify_and_renew_commands(pki, settings, source, folder):
    work = folder / "cli"
    work.mkdir()
    (work / "digitize.toml").write_text(
        "[signing]\n"
        f'pkcs12 = "{settings.pkcs12}"\n'
        f'agency_name = "{AGENCY}"\n'
        f'trust_roots = ["{pki.root_pem}"]\n'
        f'tsa_url = "{pki.tsa_url}"\n'
        'pades_level = "auto"\n',
        encoding="utf-8",
    )
    env = {"DIGITIZE_SIGNING__PKCS12_PASSWORD": PASSWORD}
    signed = _digitize("sign", str(source), "-o", "out.pdf", "--level", "B-LT", cwd=work, env=env)
    assert signed.returncode == 0, signed.stderr
    assert "PAdES B-LT" in signed.stdout and PASSWORD not in signed.stdout + signed.stderr
    checked = _digitize("verify", "out.pdf", "--min-level", "B-LT", cwd=work, env=env)
    assert checked.returncode == 0, checked.stdout
    for name in ("integrity", "trust", "revocation", "timestamps", "visible signature", "PDF/A"):
        assert f"] {name}:" in checked.stdout
    lta_run = _digitize("sign", str(source), "-o", "lta.pdf", cwd=work, env=env)
    assert "PAdES B-LTA" in lta_run.stdout
    same_tsa = _digitize("renew", "lta.pdf", "-o", "lta-renewed.pdf", cwd=work, env=env)
    assert same_tsa.returncode == 9 and "would gain nothing" in same_tsa.stderr
    renewed = _digitize("renew", "lta.pdf", "-o", "lta-renewed.pdf", cwd=work,
                        env=env | {"DIGITIZE_SIGNING__TSA_URL": pki.tsa2_url})
    assert renewed.returncode == 0 and "2 archive timestamps" in renewed.stdout, renewed.stderr
    too_low = _digitize("verify", "out.pdf", "--min-level", "B-LTA", cwd=work, env=env)
    assert too_low.returncode == 10 and "B-LTA required" in too_low.stdout


def test_verify_command_checks_the_archive_sha256_from_the_catalog(lta, pki, folder):
    from digitize.models import DocumentMeta
    from storage.catalog import Catalog

    work = folder / "cli-catalog"
    work.mkdir()
    archived = _copy(lta.path, work / "000.31.25.H08-261120-0001-KQ1.pdf")
    (work / "digitize.toml").write_text(
        f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n[catalog]\npath = "catalog.sqlite"\n', encoding="utf-8")
    with Catalog.open(work / "catalog.sqlite") as catalog:
        catalog.upsert_office("phuoc-loc", AGENCY, "xa")
        catalog.record_document(
            DocumentMeta("000.31.25.H08-261120-0001", "KQ", 1, "xa", "phuoc-loc"),
            input_sha256="0" * 64, output_sha256=lta.sha256, archive_key="xa/phuoc-loc/x.pdf", page_count=1,
            ocr_confidence=90.0, pades_level="B-LTA", signer="test", signed_at=lta.signing_time,
        )
    result = _digitize("verify", archived.name, cwd=work, env={})
    assert result.returncode == 0, result.stdout
    assert "archive SHA-256: SHA-256" in result.stdout and "as recorded for 000.31.25.H08-261120-0001-KQ1" in result.stdout
    archived.write_bytes(archived.read_bytes() + b"\n% appended\n")
    result = _digitize("verify", archived.name, cwd=work, env={})
    assert result.returncode == 10
    assert "[FAIL] archive SHA-256" in result.stdout


def _catalog_knowing(work: Path, code: str, sha256: str, level: str) -> None:
    from digitize.models import DocumentMeta
    from storage.catalog import Catalog

    dossier, _, number = code.rpartition("-KQ")
    with Catalog.open(work / "catalog.sqlite") as catalog:
        catalog.upsert_office("phuoc-loc", AGENCY, "xa")
        catalog.record_document(
            DocumentMeta(dossier, "KQ", int(number), "xa", "phuoc-loc"),
            input_sha256="1" * 64, output_sha256=sha256, archive_key=f"xa/phuoc-loc/{code}.pdf", page_count=1,
            ocr_confidence=90.0, pades_level=level, signer="test", signed_at=datetime.now(timezone.utc),
        )


@pytest.mark.parametrize("damage", ["rolled-back", "dss-stripped"])
def test_verify_expects_the_level_the_catalog_records(lta, pki, folder, damage):
    work = folder / f"cli-level-{damage}"
    work.mkdir()
    code = "000.31.25.H08-261120-0002-KQ1"
    damaged = work / f"{code}.pdf"
    if damage == "rolled-back":
        cut_back_to_signed_revision(lta.path, damaged)
    else:
        strip_dss_incrementally(_copy(lta.path, damaged))
    (work / "digitize.toml").write_text(
        f'[signing]\ntrust_roots = ["{pki.root_pem}"]\nfetch_revocation = false\n'
        '[catalog]\npath = "catalog.sqlite"\n', encoding="utf-8")
    without_record = _digitize("verify", damaged.name, cwd=work, env={})
    assert "[FAIL] PAdES level" not in without_record.stdout  # B-B is the default minimum
    _catalog_knowing(work, code, lta.sha256, "B-LTA")
    result = _digitize("verify", damaged.name, cwd=work, env={})
    assert result.returncode == 10, result.stdout
    assert "[FAIL] PAdES level: B-T reached; B-LTA required: the catalog records B-LTA for " + code in result.stdout


def test_verify_expects_the_level_the_manifest_beside_the_file_records(lta, pki, folder):
    work = folder / "cli-level-manifest"
    work.mkdir()
    code = "000.31.25.H08-261120-0003-KQ1"
    cut_back_to_signed_revision(lta.path, work / f"{code}.pdf")
    (work / f"{code}.manifest.json").write_text(
        f'{{"document_code": "{code}", "pades_level": "B-LTA"}}', encoding="utf-8")
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\nfetch_revocation = false\n',
                                        encoding="utf-8")
    result = _digitize("verify", f"{code}.pdf", cwd=work, env={})
    assert result.returncode == 10, result.stdout
    assert f"B-LTA required: its manifest {code}.manifest.json records B-LTA for {code}" in result.stdout


# --- long-term: the clock really moved, every service stopped -------------------------


@pytest.fixture(scope="module")
def lta_offline(folder, source):
    """A B-LTA file and a CLI set-up trusting its root, made with a test PKI that is then stopped."""
    work = folder / "offline"
    work.mkdir()
    with start_test_pki(work / "pki") as own:
        offline = SigningSettings(
            pkcs12=own.write_p12("agency", PASSWORD.encode()), pkcs12_password=PASSWORD, agency_name=AGENCY,
            trust_roots=(own.root_pem,), pades_level="B-LTA", tsa_url=own.tsa_url, demo_dir=work / "keys")
        with open_signing_session(offline, font_cache_dir=folder / "fonts") as s:
            signed = s.sign(source, work / "lta.pdf")
        tsa_url = own.tsa_url
    # fetching stays on (the default): its OCSP/CRL/TSA URLs now refuse connections
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{own.root_pem}"]\n', encoding="utf-8")
    return work, signed.path, tsa_url


def _verify_at(work: Path, path: Path, moment: str | None) -> tuple[int, dict]:
    """``digitize verify --json`` in a process whose clock (libfaketime) starts at ``moment``."""
    import json

    if moment is not None and shutil.which("faketime") is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    prefix = ["faketime", moment] if moment else []
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    result = subprocess.run([*prefix, sys.executable, "-m", "digitize", "verify", "--json", str(path)], cwd=work,
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)[0]


def _checks(report: dict) -> dict[str, dict]:
    return {c["name"]: c for c in report["checks"]}


@pytest.mark.slow
def test_b_lta_renewed_in_time_stays_valid_offline_past_the_signer_expiry(lta_offline):
    from urllib.parse import urlsplit

    work, path, tsa_url = lta_offline
    if shutil.which("faketime") is None:
        pytest.skip("libfaketime is not installed (apt-get install faketime)")
    renewed = work / "lta-renewed-2035.pdf"
    repo = Path(__file__).resolve().parent.parent
    code = "import sys; from tests.signing_helpers import renew_with_restarted_pki as r; r(*sys.argv[1:])"
    # on 2035-01-05 (the agency's certificate ended 2035-01-01) the archive renews with tsa2 (to 2044)
    done = subprocess.run(["faketime", "2035-01-05 00:00:00", sys.executable, "-c", code, str(work / "pki"),
                           str(urlsplit(tsa_url).port), str(path), str(renewed), str(work / "pki" / "root.cert.pem")],
                          cwd=repo, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    exit_code, report = _verify_at(work, renewed, "2035-02-01 00:00:00")
    assert exit_code == 0 and report["outcome"] == "valid", report
    assert "embedded validation data only" in _checks(report)["trust"]["detail"]
    assert "provable until 2044-01-01" in _checks(report)["renewal"]["detail"]
    _, later = _verify_at(work, renewed, "2041-06-01 00:00:00")  # past the first TSA's expiry, renewed in time
    assert later["outcome"] == "indeterminate", later


def test_b_lta_verifies_offline_from_its_embedded_data(lta_offline):
    work, path, tsa_url = lta_offline
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(tsa_url, timeout=5)  # the test PKI is really down
    code, report = _verify_at(work, path, None)
    assert code == 0 and report["outcome"] == "valid", report
    assert "embedded validation data only" in _checks(report)["trust"]["detail"]
    assert "provable until 2040-01-01" in _checks(report)["renewal"]["detail"]


@pytest.mark.slow
def test_b_lta_past_the_signer_expiry_is_indeterminate_with_what_resolves_it_never_invalid(lta_offline):
    work, path, _ = lta_offline
    code, report = _verify_at(work, path, "2035-06-01 00:00:00")  # the agency's certificate ended 2035-01-01
    assert report["outcome"] == "indeterminate", report
    assert code == 16  # not 10: nothing is proven wrong
    trust = _checks(report)["trust"]
    assert trust["indeterminate"] and "needs current revocation data" in trust["detail"]
    assert "To resolve" in trust["detail"] and "fetching current revocation data did not resolve it" in trust["detail"]
    assert all(c["ok"] or c["indeterminate"] for c in report["checks"]), report


@pytest.mark.slow
def test_b_lta_past_the_tsa_chain_expiry_without_renewal_fails_saying_renewal_was_due(lta_offline):
    work, path, _ = lta_offline
    code, report = _verify_at(work, path, "2040-06-01 00:00:00")  # the TSA certificate ended 2040-01-01
    assert code == 10 and report["outcome"] == "invalid", report
    trust, renewal = _checks(report)["trust"], _checks(report)["renewal"]
    assert not trust["indeterminate"] and "renewal was due before 2040-01-01" in trust["detail"]
    assert not renewal["ok"] and "renewal was due" in renewal["detail"]


# --- smaller points: quiet stderr, the PDF/A-2b rules, the B-B note ---------------------


def test_verify_command_keeps_pyhanko_tracebacks_and_warnings_off_stderr(lta, pki, folder):
    work = folder / "cli-quiet"
    work.mkdir()
    edited = _copy(lta.path, work / "edited.pdf")
    change_metadata_incrementally(edited, info={"/Title": "Giấy phép khác"})
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n', encoding="utf-8")
    result = _digitize("verify", "edited.pdf", cwd=work, env={})
    assert result.returncode == 10 and "[FAIL] modifications" in result.stdout
    assert "Traceback" not in result.stderr and "WARNING" not in result.stderr, result.stderr


def test_pdfa_2b_check_does_not_require_info_and_xmp_producer_to_match(folder):
    from signing.pdfa_check import signing_update_problems

    def with_producers(part: str) -> bytes:
        path = make_pdfa(folder / f"producers-{part}.pdf")
        with pikepdf.open(path, allow_overwriting_input=True) as pdf:
            pdf.trailer.Info = pdf.make_indirect(pikepdf.Dictionary(Producer="máy quét A"))
            with pdf.open_metadata(set_pikepdf_as_editor=False, update_docinfo=False) as xmp:
                xmp["pdf:Producer"] = "pikepdf B"
                xmp["pdfaid:part"] = part
            pdf.save(path)
        return path.read_bytes()

    assert signing_update_problems(with_producers("2"), "2b") == []
    assert any("Producer" in p for p in signing_update_problems(with_producers("1"), "1b"))


def test_pdfa_check_names_unsupported_constructs_without_failing(folder):
    from signing.pdfa_check import check_signed_pdfa

    path = make_pdfa(folder / "shading.pdf")
    with pikepdf.open(path, allow_overwriting_input=True) as pdf:
        function = pdf.make_indirect(pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0, 0, 0], C1=[1, 1, 1], N=1))
        shading = pikepdf.Dictionary(ShadingType=2, ColorSpace=pikepdf.Name.DeviceRGB, Coords=[0, 0, 100, 0],
                                     Function=function)
        pdf.pages[0].Resources = pikepdf.Dictionary(Shading=pikepdf.Dictionary(Sh0=shading))
        pdf.pages[0].Contents = pdf.make_stream(b"0.5 g 72 72 200 100 re f q /Sh0 sh Q")
        pdf.save(path)
    check = check_signed_pdfa(path.read_bytes())
    assert check.ok, check.detail
    assert "not checked by pikepdf.pdfa: shadings" in check.detail


def test_a_b_b_session_with_a_tsa_configured_does_not_claim_timestamps(settings, folder):
    with _session_at(settings, "B-B", folder) as s:
        assert "timestamps from" not in s.note and "no timestamp (B-B)" in s.note
    with _session_at(settings, "B-T", folder) as s:
        assert f"timestamps from {settings.tsa_url}" in s.note


def test_b_t_without_embedded_revocation_data_and_fetching_off_is_indeterminate_not_invalid(settings, source, folder):
    with _session_at(settings, "B-T", folder) as s:
        bt = s.sign(source, folder / "bt-offline.pdf")
    offline = verify_pdf(bt.path, settings.trust_roots, fetch_revocation=False, revocation_mode="hard-fail")
    assert offline.outcome == "indeterminate", offline.to_dict()
    trust = offline.check("trust")
    assert trust.indeterminate and "fetching is off" in trust.detail and "To resolve" in trust.detail
    online = verify_pdf(bt.path, settings.trust_roots, fetch_revocation=True, revocation_mode="hard-fail")
    assert online.outcome == "valid", online.to_dict()  # fetched only because the embedded data did not suffice
