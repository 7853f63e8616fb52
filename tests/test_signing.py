"""Signing and verification with real pyHanko, real keys and real files (no mocks)."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path

import pikepdf
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from fontTools.ttLib import TTFont
from pyhanko.sign.signers import SimpleSigner

from digitize.errors import (
    BadInputError,
    ConfigError,
    SignedInputError,
    SigningError,
    VerificationError,
)
from signing.fonts import DEFAULT_FONT_CANDIDATES, default_font_path, load_stamp_font
from signing.identity import (
    LoadedSigner,
    ensure_demo_identity,
    load_signer,
    read_password,
)
from signing.sign import TIME_CHARACTERS, sign_pdf
from signing.verify import verify_pdf
from tests.signing_helpers import (
    A4,
    add_annotation_incrementally,
    change_info_incrementally,
    flip_byte_in_signed_range,
    make_ca,
    make_p12,
    make_pdf,
    make_pdfa,
    make_plain_pdf,
    write_pem,
)

AGENCY = "UBND xã Phước Lộc"
STAMPED = f"{AGENCY} (DEMO)"  # the demo certificate's agency (O), made from AGENCY
WHEN = datetime(2026, 11, 28, 9, 15, tzinfo=timezone(timedelta(hours=7)))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("signing")


@pytest.fixture(scope="module")
def font_cache(workdir) -> Path:
    return workdir / "fonts"


@pytest.fixture(scope="module")
def demo(workdir):
    return ensure_demo_identity(workdir / "keys", AGENCY)


@pytest.fixture(scope="module")
def signer(demo):
    return load_signer(demo.pkcs12, read_password(None, demo.password_file))


@pytest.fixture(scope="module")
def unsigned(workdir) -> Path:
    return make_pdfa(workdir / "scan.pdf")


@pytest.fixture(scope="module")
def signed(workdir, unsigned, signer, font_cache):
    return sign_pdf(unsigned, workdir / "signed.pdf", signer, when=WHEN, font_cache_dir=font_cache)


def _copy(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    return dst


# --- identity -----------------------------------------------------------------


def test_demo_identity_is_created_once_and_reused(tmp_path):
    first = ensure_demo_identity(tmp_path / "keys", AGENCY)
    contents = {p: p.read_bytes() for p in (first.pkcs12, first.password_file, first.ca_cert)}
    second = ensure_demo_identity(tmp_path / "keys", "another name")
    assert second == first
    assert {p: p.read_bytes() for p in contents} == contents
    assert first.password_file.stat().st_mode & 0o777 == 0o600
    assert first.pkcs12.stat().st_mode & 0o777 == 0o600


def test_demo_certificate_says_demo_in_vietnamese_and_chains_to_demo_ca(demo):
    password = read_password(None, demo.password_file)
    key, cert, chain = pkcs12.load_key_and_certificates(demo.pkcs12.read_bytes(), password)
    ca = x509.load_pem_x509_certificate(demo.ca_cert.read_bytes())
    subject = {a.oid._name: a.value for a in cert.subject}
    assert subject["commonName"] == subject["organizationName"] == STAMPED
    units = [a.value for a in cert.subject if a.oid == x509.NameOID.ORGANIZATIONAL_UNIT_NAME]
    assert any("khóa thử nghiệm" in unit for unit in units) and any("NOT FOR PRODUCTION" in u for u in units)
    assert subject["countryName"] == "VN"
    assert cert.issuer == ca.subject and chain == [ca]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.content_commitment
    assert "NOT FOR PRODUCTION" in ca.subject.rfc4514_string()


def test_half_made_demo_identity_is_refused_not_overwritten(tmp_path):
    identity = ensure_demo_identity(tmp_path / "keys", AGENCY)
    identity.password_file.unlink()
    key = identity.pkcs12.read_bytes()
    with pytest.raises(SigningError, match="incomplete"):
        ensure_demo_identity(tmp_path / "keys", AGENCY)
    assert identity.pkcs12.read_bytes() == key


def test_wrong_pkcs12_password_is_a_signing_error_without_the_password(demo):
    secret = "sai-mật-khẩu-42"
    with pytest.raises(SigningError) as info:
        load_signer(demo.pkcs12, secret.encode())
    assert "wrong password" in str(info.value)
    assert secret not in str(info.value) and secret not in repr(info.value)


def test_missing_pkcs12_file_is_a_signing_error(tmp_path):
    with pytest.raises(SigningError, match="could not read the signing key"):
        load_signer(tmp_path / "nope.p12", b"x")


def test_expired_certificate_is_refused(tmp_path):
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    p12 = make_p12(tmp_path / "old.p12", b"pw", not_before=now - timedelta(days=800),
                   not_after=now - timedelta(days=1), ca=make_ca("Test CA"))
    with pytest.raises(SigningError, match="expired on 2026-11-27"):
        load_signer(p12, b"pw", now=now)


def test_not_yet_valid_certificate_is_refused(tmp_path):
    now = datetime(2026, 11, 28, tzinfo=timezone.utc)
    p12 = make_p12(tmp_path / "new.p12", b"pw", not_before=now + timedelta(days=1),
                   not_after=now + timedelta(days=800), ca=make_ca("Test CA"))
    with pytest.raises(SigningError, match="not valid before"):
        load_signer(p12, b"pw", now=now)


def test_password_comes_from_value_or_first_line_of_file(tmp_path):
    (tmp_path / "pass").write_text("bí mật\nignored\n", encoding="utf-8")
    assert read_password("x", tmp_path / "pass") == b"x"
    assert read_password(None, tmp_path / "pass") == "bí mật".encode()
    assert read_password(None, None) is None


def test_loaded_signer_repr_shows_no_key(signer):
    assert "PrivateKey" not in repr(signer) and "signer=" not in repr(signer)
    assert AGENCY in signer.subject


# --- signing ------------------------------------------------------------------


def test_signed_file_verifies_at_level_b_b(signed, demo):
    report = verify_pdf(signed.path, [demo.ca_cert], expected_sha256=signed.sha256)
    assert report.ok, report.to_dict()
    assert [c.name for c in report.checks] == [
        "signed", "integrity", "cryptography", "trust", "revocation", "timestamps", "pades_level",
        "modifications", "coverage", "renewal", "stamp", "stamp_clear", "pdfa", "archive_sha256",
    ]
    assert report.check("pades_level").detail.startswith("B-B")
    json.dumps(report.to_dict())


def test_the_key_is_parsed_once_for_every_signature_of_a_batch(workdir, demo, unsigned, font_cache, monkeypatch):
    from cryptography.hazmat.primitives import serialization

    parsed = []
    parse = serialization.load_der_private_key
    monkeypatch.setattr(serialization, "load_der_private_key", lambda *a, **k: parsed.append(1) or parse(*a, **k))
    signer = load_signer(demo.pkcs12, read_password(None, demo.password_file))
    results = [sign_pdf(unsigned, workdir / f"batch-{n}.pdf", signer, when=WHEN, font_cache_dir=font_cache)
               for n in range(3)]
    assert len(parsed) == 1  # pyHanko's SimpleSigner parsed it again for each of the three
    for result in results:
        assert verify_pdf(result.path, [demo.ca_cert], expected_sha256=result.sha256).ok


def test_sign_result_describes_the_exact_bytes_written(signed, unsigned):
    assert signed.sha256 == hashlib.sha256(signed.path.read_bytes()).hexdigest()
    assert signed.signing_time == WHEN and signed.pades_level == "B-B"
    assert AGENCY in signed.signer
    assert not list(signed.path.parent.glob(".*.tmp"))


def test_input_is_never_modified(workdir, signer, font_cache):
    src = make_pdf(workdir / "untouched.pdf")
    before = src.read_bytes()
    sign_pdf(src, workdir / "untouched-signed.pdf", signer, agency_name=AGENCY, font_cache_dir=font_cache)
    assert src.read_bytes() == before
    with pytest.raises(SigningError, match="must not replace its input"):
        sign_pdf(src, src, signer, agency_name=AGENCY, font_cache_dir=font_cache)


def test_signature_dictionary_keeps_copy_form_and_agency(signed):
    with pikepdf.open(signed.path) as pdf:
        sig = pdf.Root.AcroForm.Fields[0].V
        assert sig.SubFilter == "/ETSI.CAdES.detached"
        assert str(sig.Reason) == "SAO Y"
        assert str(sig.Location) == STAMPED and str(sig.Name) == STAMPED
        assert str(sig.M).startswith("D:20261128091500+07")


def test_producer_in_info_and_xmp_stay_equal_for_pdfa(workdir, signer, demo, font_cache):
    src = make_pdfa(workdir / "pdfa.pdf")
    result = sign_pdf(src, workdir / "pdfa-signed.pdf", signer, font_cache_dir=font_cache)
    with pikepdf.open(result.path) as pdf:
        assert str(pdf.docinfo.Producer) == pdf.open_metadata()["pdf:Producer"]
    assert verify_pdf(result.path, [demo.ca_cert]).ok


def test_default_signing_time_is_vietnam_time(workdir, unsigned, signer, font_cache):
    result = sign_pdf(unsigned, workdir / "now.pdf", signer, agency_name=AGENCY, font_cache_dir=font_cache)
    assert result.signing_time.utcoffset() == timedelta(hours=7)
    assert abs(result.signing_time - datetime.now(timezone.utc)) < timedelta(minutes=1)


def test_levels_above_b_b_need_a_timestamp_authority(workdir, unsigned, signer):
    with pytest.raises(SigningError, match="needs a timestamp authority; none is configured"):
        sign_pdf(unsigned, workdir / "bt.pdf", signer, agency_name=AGENCY, pades_level="B-T")
    assert not (workdir / "bt.pdf").exists()


def test_already_signed_input_is_refused(workdir, signed, signer, font_cache):
    with pytest.raises(SignedInputError):
        sign_pdf(signed.path, workdir / "twice.pdf", signer, agency_name=AGENCY, font_cache_dir=font_cache)


def test_corrupt_input_is_bad_input(workdir, signer, font_cache):
    junk = workdir / "junk.pdf"
    junk.write_bytes(b"this is not a pdf")
    with pytest.raises(BadInputError):
        sign_pdf(junk, workdir / "junk-signed.pdf", signer, agency_name=AGENCY, font_cache_dir=font_cache)


# --- the visible signature (Decree 30/2020) -----------------------------------


@pytest.mark.tools
def test_stamp_text_reads_back_with_diacritics_and_vietnam_time(signed):
    out = subprocess.run(
        ["pdftotext", "-f", "1", "-l", "1", str(signed.path), "-"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout
    assert "SAO Y" in out
    assert AGENCY in out
    assert "2026-11-28T09:15:00+07:00" in out


def test_stamp_sits_in_the_top_right_quarter_of_page_one(signed):
    with pikepdf.open(signed.path) as pdf:
        page = pdf.pages[0]
        widgets = [a for a in page.get("/Annots", []) if a.get("/FT") == "/Sig" or a.get("/Subtype") == "/Widget"]
        assert len(widgets) == 1
        x1, y1, x2, y2 = (float(v) for v in widgets[0].Rect)
        width, height = A4
        assert x1 >= width / 2 and y1 >= height / 2
        assert x2 <= width and y2 <= height
        assert x2 - x1 > 50 and y2 - y1 >= 36  # room for three 10 pt lines
        assert int(widgets[0].F) & 4  # printed (PDF/A)


def test_stamp_uses_embedded_liberation_serif_at_10pt_black_without_image(signed):
    with pikepdf.open(signed.path) as pdf:
        ap = pdf.pages[0].Annots[0].AP.N
        stream = ap.read_bytes()
        assert b"/F1 10 Tf" in stream
        assert b" rg" not in stream and b" RG" not in stream and b" re S" not in stream  # default black, no border
        assert "/XObject" not in ap.Resources  # no image
        font = ap.Resources.Font.F1.DescendantFonts[0]
        assert "LiberationSerif" in str(font.BaseFont)
        assert "/FontFile2" in font.FontDescriptor


def test_embedded_font_widths_match_the_font_scaled_to_1000_units(signed):
    original = TTFont(default_font_path())
    scale = 1000 / original["head"].unitsPerEm
    original_glyph = original.getBestCmap()
    with pikepdf.open(signed.path) as pdf:
        font = pdf.pages[0].Annots[0].AP.N.Resources.Font.F1.DescendantFonts[0]
        widths = _widths_by_cid(font.W)
        embedded = TTFont(BytesIO(font.FontDescriptor.FontFile2.read_bytes()))
    order = embedded.getGlyphOrder()
    character = {name: cp for cp, name in embedded.getBestCmap().items()}
    assert len(widths) >= 10
    assert {chr(character[order[cid]]) for cid in widths} == set("SAO Y" + STAMPED + WHEN.isoformat())
    for cid, width in widths.items():  # CIDs are the embedded program's glyph ids (CIDToGIDMap Identity)
        assert abs(width - embedded["hmtx"][order[cid]][0]) <= 1, (order[cid], width)
        expected = original["hmtx"][original_glyph[character[order[cid]]]][0] * scale
        assert abs(width - expected) <= 1, (order[cid], width, expected)


def _widths_by_cid(w_array) -> dict[int, float]:
    widths, items, i = {}, list(w_array), 0
    while i < len(items):
        first, nxt = int(items[i]), items[i + 1]
        if isinstance(nxt, pikepdf.Array):
            widths.update({first + k: float(v) for k, v in enumerate(nxt)})
            i += 2
        else:
            widths.update({cid: float(items[i + 2]) for cid in range(first, int(nxt) + 1)})
            i += 3
    return widths


def test_font_rescaling_is_cached_on_disk(font_cache, signed):
    # signing cut the font down to the stamp's letters (one small font per agency) and rescaled only those
    cut = sorted(font_cache.glob("*-1000upem-cut-*.ttf"))
    assert cut and sorted(font_cache.glob("*.ttf")) == cut
    for path in cut:
        assert TTFont(path)["head"].unitsPerEm == 1000 and TTFont(path)["maxp"].numGlyphs < 120
    assert load_stamp_font(default_font_path(), font_cache, keep="SAO Y" + STAMPED + TIME_CHARACTERS).path in cut
    # the whole font, rescaled, is cached too when asked for
    font = load_stamp_font(default_font_path(), font_cache)
    assert font.path.parent == font_cache and font.path not in cut
    assert TTFont(font.path)["head"].unitsPerEm == 1000 and TTFont(font.path)["maxp"].numGlyphs > 2000


def test_the_stamp_font_program_is_subset_once_for_the_signatures_of_the_same_letters(workdir, unsigned, signer,
                                                                                      demo, font_cache, monkeypatch):
    from fontTools import subset

    def embedded_program(path: Path) -> bytes:
        with pikepdf.open(path) as pdf:
            font = pdf.pages[0].Annots[0].AP.N.Resources.Font.F1.DescendantFonts[0]
            return font.FontDescriptor.FontFile2.read_bytes()

    agency = "UBND phường Quy Nhơn Đông"
    first = sign_pdf(unsigned, workdir / "letters-1.pdf", signer, agency_name=agency, when=WHEN,
                     font_cache_dir=font_cache)
    subsets, real = [], subset.Subsetter.subset
    monkeypatch.setattr(subset.Subsetter, "subset", lambda self, font: subsets.append(1) or real(self, font))
    second = sign_pdf(unsigned, workdir / "letters-2.pdf", signer, agency_name=agency, when=WHEN.replace(minute=51),
                      font_cache_dir=font_cache)
    assert subsets == []  # 09:15 and 09:51: the same letters and digits, the program made for the first
    assert embedded_program(second.path) == embedded_program(first.path)
    later = sign_pdf(unsigned, workdir / "letters-3.pdf", signer, agency_name=agency,
                     when=WHEN.replace(hour=13, minute=47), font_cache_dir=font_cache)
    assert subsets == [1]  # 13:47: other digits, a program of their own
    assert embedded_program(later.path) != embedded_program(first.path)
    for result in (first, second, later):
        report = verify_pdf(result.path, [demo.ca_cert])  # (the stamp names another agency than the key's)
        assert report.check("pdfa").ok and report.check("integrity").ok, report.to_dict()
        assert agency in report.check("stamp").detail  # the stamp's text reads back


def test_the_cut_down_stamp_font_draws_the_stamp_as_the_whole_font_does(font_cache):
    """Only the stamp's glyphs are kept, renumbered (not 2,600 slots): the same outlines, advances and kerning."""
    import uharfbuzz as hb
    from fontTools.pens.recordingPen import DecomposingRecordingPen

    lines = ["SAO Y", "Ủy ban nhân dân xã Phước Lộc", "2026-11-28T09:15:00+07:00"]
    whole = load_stamp_font(default_font_path(), font_cache)
    cut = load_stamp_font(default_font_path(), font_cache, keep="".join(lines[:2]) + "0123456789-:T+")
    assert len(cut.data) * 10 < len(whole.data) and TTFont(BytesIO(cut.data))["maxp"].numGlyphs < 120
    assert cut.missing_characters("".join(lines)) == "" and cut.missing_characters("Đ") == "Đ"

    def drawn(font, character):
        tt = TTFont(BytesIO(font.data))
        glyphs = tt.getGlyphSet()
        pen = DecomposingRecordingPen(glyphs)
        glyphs[tt.getBestCmap()[ord(character)]].draw(pen)
        return pen.value

    def shaped(font, text):
        buffer = hb.Buffer()
        buffer.add_str(text)
        buffer.guess_segment_properties()
        hb.shape(hb.Font(hb.Face(font.data)), buffer)
        return [(p.x_advance, p.x_offset, p.y_offset) for p in buffer.glyph_positions]

    for character in set("".join(lines)) - {" "}:
        assert drawn(cut, character) == drawn(whole, character), character
        assert cut.advances[ord(character)] == whole.advances[ord(character)], character
    for line in lines:
        assert shaped(cut, line) == shaped(whole, line), line


@pytest.mark.skipif(not DEFAULT_FONT_CANDIDATES[1].is_file(), reason="Liberation 1.x (no Vietnamese) not installed")
def test_font_without_vietnamese_is_refused_not_drawn_with_blanks(workdir, unsigned, signer, font_cache):
    with pytest.raises(SigningError, match="cannot write"):
        sign_pdf(unsigned, workdir / "blank-glyphs.pdf", signer, agency_name=AGENCY,
                 font_path=DEFAULT_FONT_CANDIDATES[1], font_cache_dir=font_cache)


# --- verification -------------------------------------------------------------


def test_unrelated_ca_fails_trust_only(signed, workdir):
    other = write_pem(workdir / "other-ca.pem", make_ca("Unrelated CA")[1])
    report = verify_pdf(signed.path, [other])
    assert not report.ok
    assert not report.check("trust").ok
    assert report.check("integrity").ok and report.check("cryptography").ok


def test_flipped_byte_in_signed_range_fails_integrity(signed, workdir, demo):
    tampered = flip_byte_in_signed_range(signed.path, workdir / "flipped.pdf")
    report = verify_pdf(tampered, [demo.ca_cert], expected_sha256=signed.sha256)
    assert not report.ok
    assert not report.check("integrity").ok
    assert not report.check("archive_sha256").ok


def test_annotation_added_after_signing_fails_modifications(signed, workdir, demo):
    edited = _copy(signed.path, workdir / "annotated.pdf")
    add_annotation_incrementally(edited)
    report = verify_pdf(edited, [demo.ca_cert])
    assert not report.ok
    assert report.check("integrity").ok and report.check("trust").ok  # the AdES verdict alone would pass
    assert not report.check("modifications").ok


def test_info_changed_after_signing_fails_modifications(signed, workdir, demo):
    edited = _copy(signed.path, workdir / "retitled.pdf")
    change_info_incrementally(edited)
    report = verify_pdf(edited, [demo.ca_cert])
    assert not report.ok
    assert not report.check("modifications").ok or not report.check("coverage").ok


@pytest.fixture
def validations(monkeypatch) -> list[int]:
    """Counts pikepdf.pdfa's validations of written bytes."""
    import pikepdf.pdfa

    counted, validate = [], pikepdf.pdfa.validate_written
    monkeypatch.setattr(pikepdf.pdfa, "validate_written", lambda *a, **k: counted.append(1) or validate(*a, **k))
    return counted


def test_the_pdfa_validated_when_written_is_not_validated_again_after_signing(signed, unsigned, demo, validations):
    validated = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    report = verify_pdf(signed.path, [demo.ca_cert], expected_sha256=signed.sha256, validated_pdfa_sha256=validated)
    assert report.ok, report.to_dict()
    assert "validated when it was written" in report.check("pdfa").detail and validated in report.check("pdfa").detail
    assert validations == []
    # a file from elsewhere (no digest) is validated in full, with the same verdict
    assert verify_pdf(signed.path, [demo.ca_cert]).check("pdfa").ok
    assert validations == [1]


def test_a_file_not_beginning_with_the_validated_pdfa_is_validated_in_full(workdir, signer, unsigned, demo,
                                                                           font_cache, validations):
    validated = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    plain = sign_pdf(make_plain_pdf(workdir / "not-pdfa.pdf"), workdir / "not-pdfa-signed.pdf", signer,
                     font_cache_dir=font_cache)
    check = verify_pdf(plain.path, [demo.ca_cert], validated_pdfa_sha256=validated).check("pdfa")
    assert not check.ok and "not PDF/A-2b" in check.detail
    assert validations == [1]


def test_a_changed_byte_before_the_signature_loses_the_validated_pdfa(signed, unsigned, workdir, demo, validations):
    from signing.pdfa_check import check_signed_pdfa

    changed = flip_byte_in_signed_range(signed.path, workdir / "flipped-validated.pdf")
    validated = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    check = check_signed_pdfa(changed.read_bytes(), validated_sha256=validated)
    assert validations == [1] and "validated when it was written" not in check.detail
    report = verify_pdf(changed, [demo.ca_cert], validated_pdfa_sha256=validated)
    assert not report.ok and not report.check("integrity").ok


def test_the_validated_pdfa_does_not_spare_checking_what_was_added_after_it(signed, unsigned, workdir, demo):
    from signing.pdfa_check import check_signed_pdfa

    hidden = _copy(signed.path, workdir / "hidden-note.pdf")
    add_annotation_incrementally(hidden, flags=2)
    validated = hashlib.sha256(unsigned.read_bytes()).hexdigest()
    check = check_signed_pdfa(hidden.read_bytes(), validated_sha256=validated)
    assert not check.ok and "hidden" in check.detail


def test_a_pdfa_saved_as_assembly_saves_it_leaves_no_not_checked_note_for_the_fast_path(signed, unsigned, workdir):
    """The fast path (the PDF/A recognised by its SHA-256) lists nothing pikepdf "did not check": assembly
    writes with pikepdf.pdfa.save, which takes only a "pass" (no finding, not even a construct it does not
    check), so the full validation of those bytes has no such note either; the two details say the same."""
    import pikepdf.pdfa

    from signing.pdfa_check import check_signed_pdfa

    shaded = pikepdf.new()
    shaded.add_blank_page(page_size=A4)
    shaded.pages[0].Resources = pikepdf.Dictionary(Shading=pikepdf.Dictionary(Sh0=pikepdf.Dictionary(
        ShadingType=2, ColorSpace=pikepdf.Name.DeviceGray, Coords=[0, 0, 100, 0],
        Function=pikepdf.Dictionary(FunctionType=2, Domain=[0, 1], C0=[0], C1=[1], N=1))))
    shaded.pages[0].Contents = shaded.make_stream(b"q /Sh0 sh Q")
    with pytest.raises(pikepdf.pdfa.PdfaError) as refused:
        pikepdf.pdfa.save(shaded, workdir / "shaded.pdf", "2b")
    assert refused.value.report.verdict == "not_checked"  # a note the full validation would show; never assembled
    data = signed.path.read_bytes()
    full = check_signed_pdfa(data)
    fast = check_signed_pdfa(data, validated_sha256=hashlib.sha256(unsigned.read_bytes()).hexdigest())
    assert full.ok and fast.ok
    assert "not checked" not in full.detail and "not checked" not in fast.detail
    assert full.detail.endswith("(fonts, widths, annotations, XMP)")
    assert fast.detail.endswith("(fonts, widths, annotations, XMP)")


@pytest.fixture
def signature_validations(monkeypatch) -> list[int]:
    """Counts the signature validations signing.verify asks pyHanko for."""
    import signing.verify

    counted, validate = [], signing.verify.validate_pdf_signature
    monkeypatch.setattr(signing.verify, "validate_pdf_signature",
                        lambda *a, **k: counted.append(1) or validate(*a, **k))
    return counted


def test_a_signature_without_timestamp_is_validated_once_and_reported_alike_in_each_revocation_mode(
        signed, workdir, demo, signature_validations):
    """One pyHanko validation serves the structural checks and the trust check (the pipeline verifies with
    hard-fail and fetching on; the structure was validated soft-fail): the reports are the same as in
    soft-fail, for the signed file and for its tampered copies."""
    report = verify_pdf(signed.path, [demo.ca_cert], revocation_mode="hard-fail", fetch_revocation=True)
    assert report.ok, report.to_dict()
    assert signature_validations == [1]
    assert verify_pdf(signed.path, [demo.ca_cert]).ok and signature_validations == [1, 1]
    flipped = flip_byte_in_signed_range(signed.path, workdir / "flipped-modes.pdf")
    annotated = _copy(signed.path, workdir / "annotated-modes.pdf")
    add_annotation_incrementally(annotated)
    retitled = _copy(signed.path, workdir / "retitled-modes.pdf")
    change_info_incrementally(retitled)
    for path in (signed.path, flipped, annotated, retitled):
        hard = verify_pdf(path, [demo.ca_cert], revocation_mode="hard-fail", fetch_revocation=True)
        assert hard.to_dict() == verify_pdf(path, [demo.ca_cert]).to_dict(), path.name


def test_verify_reads_the_stamp_once_for_both_stamp_checks(signed, demo, monkeypatch):
    import signing.stamp_check
    from signing.stamp_check import check_stamp, check_stamp_clear, stamp_checks

    data = signed.path.read_bytes()
    separate = (check_stamp(data, agency_name=STAMPED), check_stamp_clear(data))
    reads, read = [], signing.stamp_check.read_stamp
    monkeypatch.setattr(signing.stamp_check, "read_stamp", lambda *a, **k: reads.append(1) or read(*a, **k))
    assert stamp_checks(data, agency_name=STAMPED) == separate and separate[0].ok and separate[1].ok
    assert reads == [1]
    report = verify_pdf(signed.path, [demo.ca_cert], agency_name=STAMPED)
    assert (report.check("stamp"), report.check("stamp_clear")) == separate
    assert reads == [1, 1]
    broken = data.replace(b"/Annots", b"/Annotx", 1)
    assert stamp_checks(broken) == (check_stamp(broken), check_stamp_clear(broken))


def test_signature_of_a_since_expired_certificate_fails_trust_only(workdir, font_cache):
    now = datetime.now(timezone.utc)
    ca = make_ca("Expiry CA")
    ca_pem = write_pem(workdir / "expiry-ca.pem", ca[1])
    p12 = make_p12(workdir / "expired.p12", b"pw", not_before=now - timedelta(days=30),
                   not_after=now - timedelta(days=1), ca=ca)
    # load_signer refuses this key; sign as if it had been loaded while still valid
    key = SimpleSigner.load_pkcs12_data(p12.read_bytes(), (), b"pw")
    old_signer = LoadedSigner(signer=key, subject="UBND xã Hết Hạn", not_before=now, not_after=now)
    src = make_pdfa(workdir / "expired-scan.pdf")
    result = sign_pdf(src, workdir / "expired-signed.pdf", old_signer, agency_name=AGENCY, font_cache_dir=font_cache)
    report = verify_pdf(result.path, [ca_pem])
    assert not report.ok
    assert not report.check("trust").ok and "expired" in report.check("trust").detail
    assert report.check("integrity").ok and report.check("modifications").ok


def test_unsigned_file_reports_not_signed(unsigned, demo):
    report = verify_pdf(unsigned, [demo.ca_cert])
    assert not report.ok
    assert not report.check("signed").ok


def test_unreadable_file_raises_verification_error(workdir, demo):
    with pytest.raises(VerificationError):
        verify_pdf(workdir / "missing.pdf", [demo.ca_cert])


def test_unreadable_trust_root_is_a_config_error(signed, workdir):
    with pytest.raises(ConfigError):
        verify_pdf(signed.path, [workdir / "no-such-ca.pem"])


def test_one_flipped_byte_anywhere_in_the_file_fails_verify(signed, workdir, demo):
    data = signed.path.read_bytes()
    tampered = workdir / "flipped-anywhere.pdf"
    for offset in range(0, len(data), max(1, len(data) // 40)):
        changed = bytearray(data)
        changed[offset] ^= 0x01
        tampered.write_bytes(bytes(changed))
        try:
            report = verify_pdf(tampered, [demo.ca_cert])
        except VerificationError:
            continue  # not even readable as a PDF any more: refused, as it should be
        assert not report.ok, (offset, data[max(0, offset - 20):offset + 20])



@pytest.mark.parametrize("field", ["issuer", "subject", "key"])
def test_a_changed_copy_of_the_root_inside_the_signature_fails_verify(signed, workdir, demo, field):
    """The CMS carries a copy of the demo CA, outside the signed bytes; validation finds the chain through
    the trust root given, so a changed byte in that copy's name or key must be caught by the check of the
    certificates carried (it passed, found by the flipped-byte test at some file lengths)."""
    from asn1crypto import x509 as asn1_x509
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(demo.ca_cert.read_bytes()).public_bytes(
        Encoding.DER))
    ca_der, tbs = ca.dump(), ca["tbs_certificate"]
    part = {"issuer": tbs["issuer"], "subject": tbs["subject"], "key": tbs["subject_public_key_info"]}[field].dump()
    data = signed.path.read_bytes()
    at = data.upper().find(ca_der.hex().upper().encode())
    assert at > 0, "the CA's copy is inside the signature's /Contents"
    # the issuer comes before the subject in the certificate: search from the right place for each
    start = ca_der.find(part, ca_der.find(tbs["issuer"].dump()) + 1) if field == "subject" else ca_der.find(part)
    # a bit of the key's modulus, or of a name's ASCII letter that stays one (the copy still reads well)
    letters = [i for i in range(len(part)) if chr(part[i]).isalpha() and chr(part[i] ^ 1).isalpha()]
    byte = start + (len(part) // 2 if field == "key" else letters[-1])
    offset = at + 2 * byte
    changed = bytearray(data)
    flipped = format(ca_der[byte] ^ 0x01, "02x")  # one bit of the certificate, written as the file writes hex
    changed[offset:offset + 2] = (flipped.upper() if data[offset:offset + 2].isupper() else flipped).encode()
    assert changed != data
    tampered = workdir / f"changed-ca-{field}.pdf"
    tampered.write_bytes(bytes(changed))
    report = verify_pdf(tampered, [demo.ca_cert])
    integrity = next(c for c in report.checks if c.name == "integrity")
    assert not report.ok and not integrity.ok
    assert "was changed" in integrity.detail, integrity.detail

def test_renewal_is_not_blocked_by_checks_fixed_at_signing():
    from signing.renew import renewal_blockers
    from signing.report import Check, VerifyReport

    report = VerifyReport(Path("x.pdf"), (Check("integrity", True, ""), Check("stamp_clear", False, "over ink"),
                                           Check("stamp", False, "another agency")))
    assert renewal_blockers(report) == ()
    broken = VerifyReport(Path("x.pdf"), (*report.checks, Check("trust", False, "untrusted")))
    assert [c.name for c in renewal_blockers(broken)] == ["trust"]
