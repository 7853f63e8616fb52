"""An independent check of issue 12: the outputs judged by validators that are not the project's.

Files are signed by the real `digitize sign` command (B-B, B-T, B-LT, B-LTA)
with the Certomancer test PKI serving TSA, OCSP and CRLs on 127.0.0.1, then
judged by tools that share no code with signing/: pyHanko's own CLI
(`pyhanko sign validate` and `adesverify`, package pyhanko-cli), poppler's
`pdfsig`, a structural PAdES level check written here with pikepdf and
asn1crypto, PDFBox Preflight, and pdftoppm for the stamp. Attacks are made here
by hand and must each fail `digitize verify` (exit 10) with the defaults when
the archive knows the file.

Checks (what; tool; expected; got):

- levels B-B..B-LTA of `digitize sign`, B-LTA of `digitize run` on every sample; `pyhanko sign validate`;
  VALID; VALID.
- the same long-term; `pyhanko sign adesverify`; VALID; VALID while the PKI answers (offline pyHanko's CLI says
  INVALID: it always fetches and a failed fetch is final; `digitize verify` says VALID from the DSS).
- signature intact and what it covers; `pdfsig -nocert`; "Signature is Valid", B-B/B-T "Total document
  signed"; as expected (pdfsig cannot check document timestamps, and through NSS calls this PKI's chain an
  "Unknown issue" although NSS's vfychain finds it good).
- structure of each level (timestamp token, DSS with certs + OCSP/CRL, document timestamp over the DSS);
  pikepdf + asn1crypto here; each its level, a cut-down B-LTA B-T; as expected.
- PDF/A; PDFBox Preflight (PDF/A-1b rules only); nothing but PDF/A-1-only rules; as expected (xref streams,
  part 2, CIDSet, zero-size widget without /AP, xmpbox not reading dc properties declared on the property).
- attacks on B-LT and B-LTA (byte flips, appended bytes, annotation, form field, page, Info Title/Keywords,
  XMP dc:identifier, shadow hide/replace/hide-and-replace, rollback, DSS stripped, junk in the DSS, stamp
  redrawn, /OpenAction script, untrusted document timestamp); `digitize verify` with the defaults and the
  level in the manifest; NOT VALID, exit 10; as expected after fixes in signing/ (appended bytes passed as
  VALID at every level; a junk DSS entry passed on B-LT; an untrusted TSA's timestamp set the renewal date).
- expired, revoked, self-signed key, another agency's name; `digitize sign`; exit 9 at key open; as expected.
- stamp over ink; pdftoppm -hide-annotations + OpenCV blobs here; none, text found below; as expected.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pikepdf
import pytest
from asn1crypto import cms
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

from tests.cli_fixtures import ENGLISH
from tests.signing_helpers import (
    add_annotation_incrementally,
    change_metadata_incrementally,
    cut_back_to_signed_revision,
    start_test_pki,
    strip_dss_incrementally,
)

PASSWORD = "mật-khẩu độc lập"
AGENCY = "UBND xã Phước Lộc"
LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
CODE = "000.31.25.H08-261129-0009-KQ1"
PYHANKO = Path(sys.executable).with_name("pyhanko")


# --- set-up: a PKI, a work folder, files signed by the real command ---------------------


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("independent")


@pytest.fixture(scope="module")
def pki(folder):
    with start_test_pki(folder / "pki") as running:
        yield running


def _digitize(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DIGITIZE_")} | ENGLISH
    full_env |= {"DIGITIZE_SIGNING__PKCS12_PASSWORD": PASSWORD} | (env or {})
    return subprocess.run([sys.executable, "-m", "digitize", *args], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=300)


def _write_config(work: Path, pki, p12: Path, **extra: str) -> None:
    lines = ["[signing]", f'pkcs12 = "{p12}"', f'trust_roots = ["{pki.root_pem}"]', f'tsa_url = "{pki.tsa_url}"',
             *(f"{k} = {v}" for k, v in extra.items())]
    (work / "digitize.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def pipeline_like_pdfa(path: Path, code: str = CODE) -> Path:
    """A one-page PDF/A-2b carrying its document code as the pipeline writes it (XMP dc:identifier, Info
    Title and Keywords), with a line of Vietnamese text drawn in the top left (the stamp goes top right)."""
    import pikepdf.pdfa

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(595, 842))
    pdf.pages[0].Contents = pdf.make_stream(b"0.2 g 72 700 200 40 re f 72 72 200 100 re f")
    keywords = f"dossier_code={code.rsplit('-', 1)[0]}; document_code={code}; level=xa; office=phuoc-loc"
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = code
        xmp["dc:identifier"] = code
        xmp["pdf:Keywords"] = keywords
        xmp["dc:description"] = f"Bản số hóa {code} (1 trang) – Phước Lộc"
    pdf.docinfo["/Title"] = code
    pdf.docinfo["/Keywords"] = keywords
    pikepdf.pdfa.save(pdf, path, "2b")
    return path


@pytest.fixture(scope="module")
def signed(folder, pki) -> dict[str, Path]:
    """``digitize sign`` at each level, in a folder whose digitize.toml names the test PKI."""
    work = folder / "sign"
    work.mkdir()
    _write_config(work, pki, pki.write_p12("agency", PASSWORD.encode()))
    source = pipeline_like_pdfa(work / "scan.pdf")
    out = {}
    for level in LEVELS:
        result = _digitize("sign", str(source), "-o", f"{level}.pdf", "--level", level, cwd=work)
        assert result.returncode == 0, result.stderr
        out[level] = work / f"{level}.pdf"
    return out


# --- attacks, made here with pyHanko's incremental writer or raw bytes ----------------------

OTHER_CODE = "000.31.25.H08-261129-0666-KQ1"


def _incremental(path: Path, change) -> None:
    """Append one incremental update made by ``change(writer)``; the writer may not touch the dates."""
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        writer._update_meta = lambda: None  # a forger leaves the dates alone
        change(writer)
        writer.write_in_place()


def _page_ref(writer):
    return writer.root["/Pages"]["/Kids"].raw_get(0)


def _stream(writer, data: bytes):
    return writer.add_object(generic.StreamObject(stream_data=data))


def add_form_field(writer) -> None:
    """A text field with a filled-in value and its widget on page 1."""
    page_ref = _page_ref(writer)
    field = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/FT"): generic.NameObject("/Tx"),
        generic.NameObject("/T"): generic.TextStringObject("ghi_chu"),
        generic.NameObject("/V"): generic.TextStringObject("Đã hủy"),
        generic.NameObject("/Type"): generic.NameObject("/Annot"),
        generic.NameObject("/Subtype"): generic.NameObject("/Widget"),
        generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 300, 272, 330)]),
        generic.NameObject("/F"): generic.NumberObject(4),
        generic.NameObject("/P"): page_ref,
    }))
    form = writer.root["/AcroForm"]
    form["/Fields"].append(field)
    writer.update_container(form["/Fields"])
    annots = page_ref.get_object().raw_get("/Annots")
    annots.get_object().append(field)
    writer.mark_update(annots if isinstance(annots, generic.IndirectObject) else page_ref)


def add_page(writer) -> None:
    """A second page, with content of its own."""
    pages_ref = writer.root.raw_get("/Pages")
    pages = pages_ref.get_object()
    first = pages["/Kids"][0]
    page = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/Parent"): pages_ref,
        generic.NameObject("/MediaBox"): first["/MediaBox"],
        generic.NameObject("/Resources"): generic.DictionaryObject(),
        generic.NameObject("/Contents"): _stream(writer, b"0 g 72 600 300 100 re f"),
    }))
    kids = pages.raw_get("/Kids")
    (kids.get_object() if isinstance(kids, generic.IndirectObject) else kids).append(page)
    pages["/Count"] = generic.NumberObject(int(pages["/Count"]) + 1)
    writer.mark_update(kids if isinstance(kids, generic.IndirectObject) else pages_ref)
    writer.mark_update(pages_ref)


def shadow_hide(writer) -> None:
    """Hide: a new content stream painted over part of page 1 (a white box over the content)."""
    page_ref = _page_ref(writer)
    page = page_ref.get_object()
    old = page.raw_get("/Contents")
    old_list = list(old.get_object()) if isinstance(old.get_object(), generic.ArrayObject) else [old]
    page["/Contents"] = generic.ArrayObject([*old_list, _stream(writer, b"q 1 g 60 60 240 700 re f Q")])
    writer.mark_update(page_ref)


def shadow_replace(writer) -> None:
    """Replace: the page's existing content stream object given new data under the same object number."""
    page = _page_ref(writer).get_object()
    ref = page.raw_get("/Contents")
    if isinstance(ref.get_object(), generic.ArrayObject):
        ref = ref.get_object().raw_get(0)
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(stream_data=b"0 g 300 300 100 100 re f")


def shadow_hide_and_replace(writer) -> None:
    """Hide-and-replace: a whole new page tree (one page, other content) put in place of the signed one."""
    pages_ref = writer.root.raw_get("/Pages")
    old_page = pages_ref.get_object()["/Kids"][0]
    new_pages = writer.add_object(generic.DictionaryObject({generic.NameObject("/Type"): generic.NameObject("/Pages")}))
    page = generic.DictionaryObject({
        generic.NameObject("/Type"): generic.NameObject("/Page"),
        generic.NameObject("/Parent"): new_pages,
        generic.NameObject("/MediaBox"): old_page["/MediaBox"],
        generic.NameObject("/Resources"): generic.DictionaryObject(),
        generic.NameObject("/Contents"): _stream(writer, b"0 g 72 72 400 400 re f"),
    })
    new_pages.get_object()["/Kids"] = generic.ArrayObject([writer.add_object(page)])
    new_pages.get_object()["/Count"] = generic.NumberObject(1)
    writer.root["/Pages"] = new_pages
    writer.update_root()


def _junk_in_dss(key: str):
    def change(writer) -> None:
        """An entry that is not DER appended to the DSS's ``key`` (validation data the policy lets through)."""
        dss_ref = writer.root.raw_get("/DSS")
        dss = dss_ref.get_object()
        entries = dss.raw_get(key)
        junk = _stream(writer, b"\x30\x82\x01\x00 not a certificate, a CRL nor an OCSP response")
        entries.get_object().append(junk)
        if isinstance(entries, generic.IndirectObject):
            writer.mark_update(entries)
        elif isinstance(dss_ref, generic.IndirectObject):
            writer.mark_update(dss_ref)
        else:
            writer.update_root()
    return change


def restamp(writer) -> None:
    """The visible stamp's appearance stream given other drawing under the same object number."""
    page = _page_ref(writer).get_object()
    (widget,) = [a.get_object() for a in page["/Annots"]
                 if a.get_object().get("/FT") == "/Sig" and float(a.get_object()["/Rect"][2]) > 0]
    ref = widget["/AP"].raw_get("/N")
    old = ref.get_object()
    writer.objects[(ref.generation, ref.idnum)] = generic.StreamObject(dict(old.items()),
                                                                       stream_data=b"q 0 g 0 0 50 20 re f Q")


def open_action(writer) -> None:
    """A script run when the file is opened."""
    script = writer.add_object(generic.DictionaryObject({
        generic.NameObject("/S"): generic.NameObject("/JavaScript"),
        generic.NameObject("/JS"): generic.TextStringObject("app.alert('Bản này đã bị hủy')"),
    }))
    writer.root["/OpenAction"] = script
    writer.update_root()


def _untrusted_document_timestamp(src: Path, dst: Path) -> Path:
    """A document timestamp from a TSA of the attacker's own (self-signed, far-off expiry), appended."""
    from datetime import datetime, timedelta, timezone

    from asn1crypto import keys as asn1_keys
    from asn1crypto import x509 as asn1_x509
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
    from pyhanko.sign import signers
    from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # pyHanko's dummy TSA signs RSA only
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Dịch vụ cấp dấu thời gian giả")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=9000))
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True)
            .sign(key, hashes.SHA256()))
    tsa = DummyTimeStamper(
        tsa_cert=asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)),
        tsa_key=asn1_keys.PrivateKeyInfo.load(key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())))
    with src.open("rb") as f, dst.open("wb") as out:
        signers.PdfTimeStamper(tsa).timestamp_pdf(IncrementalPdfFileWriter(f), "sha256", output=out)
    return dst


def flip_in_dss(src: Path, dst: Path) -> Path:
    """Copy ``src`` with one byte flipped inside a stream of the DSS revision (covered by the archive timestamp)."""
    data = bytearray(src.read_bytes())
    first = [int(v) for v in re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)", data).groups()]
    start = data.index(b"stream", first[2] + first[3])
    data[start + 20] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def _apply(change):
    def attack(src: Path, dst: Path) -> Path:
        shutil.copyfile(src, dst)
        _incremental(dst, change)
        return dst
    return attack


def _copy_then(helper):
    def attack(src: Path, dst: Path) -> Path:
        shutil.copyfile(src, dst)
        helper(dst)
        return dst
    return attack


def _flip_header(src: Path, dst: Path) -> Path:
    data = bytearray(src.read_bytes())
    data[data.index(b"\n%") + 2] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def _append(src: Path, dst: Path) -> Path:
    dst.write_bytes(src.read_bytes() + b"\n% appended after signing: 1 0 obj (Da huy) endobj\n")
    return dst


def _info(key: str, value: str):
    return _copy_then(lambda p: change_metadata_incrementally(p, info={key: value}))


def _xmp_identifier(src: Path, dst: Path) -> Path:
    shutil.copyfile(src, dst)
    forged = (f'dc:identifier="{CODE}"'.encode(), f'dc:identifier="{OTHER_CODE}"'.encode())
    change_metadata_incrementally(dst, xmp=forged)
    return dst


ATTACKS = {
    "byte-flip-header": _flip_header,
    "byte-flip-dss": flip_in_dss,
    "appended-bytes": _append,
    "annotation": _copy_then(add_annotation_incrementally),
    "form-field": _apply(add_form_field),
    "page": _apply(add_page),
    "info-title": _info("/Title", OTHER_CODE),
    "info-keywords": _info("/Keywords", f"document_code={OTHER_CODE}"),
    "xmp-dc-identifier": _xmp_identifier,
    "shadow-hide": _apply(shadow_hide),
    "shadow-replace": _apply(shadow_replace),
    "shadow-hide-and-replace": _apply(shadow_hide_and_replace),
    "rollback": cut_back_to_signed_revision,
    "dss-stripped": _copy_then(strip_dss_incrementally),
    "dss-junk-certificate": _apply(_junk_in_dss("/Certs")),
    "dss-junk-crl": _apply(_junk_in_dss("/CRLs")),
    "stamp-redrawn": _apply(restamp),
    "open-action-script": _apply(open_action),
    "untrusted-document-timestamp": _untrusted_document_timestamp,
}


# --- independent judges ------------------------------------------------------------------------


def structural_level(path: Path) -> str:
    """The PAdES baseline level a file's structure shows, read with pikepdf and asn1crypto only.

    B-B: one ETSI.CAdES.detached signature; B-T: its CMS carries a signature timestamp token; B-LT: the
    document has a DSS with certificates and OCSP responses or CRLs; B-LTA: a document timestamp
    (ETSI.RFC3161) signs a revision that already held that DSS. (pyHanko then adds the newest timestamp's
    own validation data in a DSS update after it, which the next renewal covers.)
    """
    data = path.read_bytes()
    with pikepdf.open(path) as pdf:
        values = [f.V for f in pdf.Root.AcroForm.Fields if f.get("/FT") == "/Sig" and "/V" in f]
        regular = [v for v in values if v.get("/SubFilter") == "/ETSI.CAdES.detached"]
        archive = [v for v in values if v.get("/SubFilter") == "/ETSI.RFC3161"]
        if len(regular) != 1:
            return f"{len(regular)} PAdES signatures"
        signer_info = cms.ContentInfo.load(bytes(regular[0].Contents))["content"]["signer_infos"][0]
        unsigned = signer_info["unsigned_attrs"].native or []
        if not any(a["type"] == "signature_time_stamp_token" for a in unsigned):
            return "B-B"
        if not _dss_holds_validation_data(pdf):
            return "B-T"
    if not archive:
        return "B-LT"
    ranges = sorted([int(x) for x in v.ByteRange] for v in archive)
    first_end = ranges[0][2] + ranges[0][3]
    with pikepdf.open(io.BytesIO(data[:first_end])) as timestamped:
        if not _dss_holds_validation_data(timestamped):
            return "B-LT (the document timestamp does not cover a DSS)"
    return "B-LTA"


def _dss_holds_validation_data(pdf: pikepdf.Pdf) -> bool:
    dss = pdf.Root.get("/DSS")
    if dss is None:
        return False
    return len(dss.get("/Certs", [])) > 0 and len(dss.get("/OCSPs", [])) + len(dss.get("/CRLs", [])) > 0


def _pyhanko(*args: str) -> subprocess.CompletedProcess:
    if not PYHANKO.is_file():
        pytest.skip("pyHanko's own CLI is not installed (pip install pyhanko-cli)")
    return subprocess.run([str(PYHANKO), *args], capture_output=True, text=True, timeout=300)


def _pdfsig(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("pdfsig") is None:
        pytest.skip("poppler's pdfsig is not installed (apt-get install poppler-utils)")
    return subprocess.run(["pdfsig", *args], capture_output=True, text=True, timeout=120)


#: Apache PDFBox Preflight (Debian: libpdfbox2-java, libactivation-java, libjaxb-api-java), PDF/A-1b only.
PREFLIGHT_JARS = ("preflight", "pdfbox2", "fontbox2", "xmpbox", "commons-logging", "javax.activation", "jaxb-api")
#: What Preflight reports on a good PDF/A-2b file because it checks PDF/A-1b rules: cross-reference streams
#: (allowed since PDF/A-2), pdfaid:part 2, a CIDSet (optional in PDF/A-2), a widget without an appearance
#: (PDF/A-2 exempts a zero-size one: checked below), and xmpbox failing to read a dc property whose namespace
#: is declared on the property rather than on rdf:Description (valid RDF/XML; pyHanko writes it so).
PDFA1_ONLY = (
    re.compile(r"^1\.4 : Trailer Syntax error, /XRef cross reference streams are not allowed$"),
    re.compile(r"^7\.11\.2 : Error on MetaData, part must be 1$"),
    re.compile(r"^3\.1\.11 : Invalid Font definition, \w+\+LiberationSerif: The CIDSet entry is missing"),
    re.compile(r"^5\.3\.1 : Invalid field value in an annotation definition, widget annotation lacks an appearance"),
    re.compile(r"^7\.3 : Error on MetaData, Schema is not set in this document : http://purl\.org/dc/elements/1\.1/$"),
)


def _preflight(pdf: Path) -> list[str]:
    """Preflight's error lines for ``pdf`` (empty when it is valid PDF/A-1b)."""
    jars = [Path("/usr/share/java") / f"{name}.jar" for name in PREFLIGHT_JARS]
    if shutil.which("java") is None or not all(jar.is_file() for jar in jars):
        pytest.skip("needs Java and PDFBox Preflight (apt-get install libpdfbox2-java libactivation-java "
                    "libjaxb-api-java openjdk-17-jre-headless)")
    done = subprocess.run(["java", "-cp", ":".join(map(str, jars)), "org.apache.pdfbox.preflight.Validator_A1b",
                           str(pdf)], capture_output=True, text=True, timeout=180)
    assert "is a valid PDF/A-1b" in done.stdout or "not a valid PDF/A-1b" in done.stdout, done.stdout + done.stderr
    return [line.strip() for line in done.stdout.splitlines() if re.match(r"^\s*\d+(\.\d+)+ : ", line)]


def _widgets_without_appearance_have_no_area(pdf_path: Path) -> bool:
    with pikepdf.open(pdf_path) as pdf:
        for page in pdf.pages:
            for annot in page.get("/Annots", []):
                if "/AP" not in annot:
                    x0, y0, x1, y1 = (float(v) for v in annot.Rect)
                    if x1 != x0 and y1 != y0:
                        return False
    return True


def _assert_pdfa_2b_by_preflight(pdf: Path) -> None:
    errors = _preflight(pdf)
    unexplained = [e for e in errors if not any(rule.match(e) for rule in PDFA1_ONLY)]
    assert not unexplained, f"{pdf.name}: Preflight finds more than the PDF/A-1-only rules: {unexplained}"
    assert _widgets_without_appearance_have_no_area(pdf)


@pytest.mark.parametrize("level", LEVELS)
def test_pyhanko_cli_judges_each_level_valid_against_the_test_root(signed, pki, level):
    checked = _pyhanko("sign", "validate", "--pretty-print", "--trust", str(pki.root_pem), "--trust-replace",
                       str(signed[level]))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The signature is judged VALID." in checked.stdout
    assert "The signer's certificate is trusted." in checked.stdout
    if level != "B-B":
        assert "The TSA certificate is trusted." in checked.stdout


@pytest.mark.parametrize("level", ("B-LT", "B-LTA"))
def test_pyhanko_cli_ades_validation_judges_the_long_term_levels_valid(signed, pki, level):
    checked = _pyhanko("sign", "adesverify", "--pretty-print", "--trust", str(pki.root_pem), "--trust-replace",
                       str(signed[level]))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "The signature is judged VALID." in checked.stdout


def test_pyhanko_cli_judges_a_flipped_byte_invalid(signed, pki, folder):
    broken = _flip_header(signed["B-LTA"], folder / "flipped-for-pyhanko.pdf")
    checked = _pyhanko("sign", "validate", "--pretty-print", "--trust", str(pki.root_pem), "--trust-replace",
                       str(broken))
    assert checked.returncode != 0 and "judged INVALID" in checked.stdout, checked.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_pdfsig_finds_the_signature_intact_and_what_it_covers(signed, level):
    checked = _pdfsig("-nocert", str(signed[level]))
    assert checked.returncode == 0, checked.stderr
    first = checked.stdout.split("Signature #2")[0]
    assert "Signature Type: ETSI.CAdES.detached" in first and "Signature Validation: Signature is Valid." in first
    assert "Signer Certificate Common Name: UBND xã Phước Lộc" in first
    if level in ("B-B", "B-T"):
        assert "Total document signed" in first and "Not total document signed" not in first
    else:  # validation data and document timestamps follow the signature's revision
        assert "Not total document signed" in first
    if level == "B-LTA":
        assert "Signer Certificate Common Name: Test Time Stamping Authority" in checked.stdout.split("Signature #2")[1]


def test_pdfsig_finds_a_flipped_byte(signed, folder):
    broken = _flip_header(signed["B-B"], folder / "flipped-for-pdfsig.pdf")
    checked = _pdfsig("-nocert", str(broken))
    assert "Signature is Valid" not in checked.stdout, checked.stdout


@pytest.mark.parametrize("level", LEVELS)
def test_structure_shows_the_level_asked_for(signed, level):
    assert structural_level(signed[level]) == level


@pytest.mark.parametrize(("attack", "shown"), [("rollback", "B-T"), ("dss-stripped", "B-T")])
def test_structure_check_sees_a_b_lta_cut_down(signed, folder, attack, shown):
    damaged = ATTACKS[attack](signed["B-LTA"], folder / f"structure-{attack}.pdf")
    assert structural_level(damaged) == shown


@pytest.mark.parametrize("level", ("B-B", "B-LTA"))
def test_preflight_finds_nothing_but_pdfa_1_only_rules(signed, level):
    _assert_pdfa_2b_by_preflight(signed[level])


def test_preflight_check_here_catches_a_real_pdfa_fault(signed, folder):
    broken = folder / "no-output-intent.pdf"
    with pikepdf.open(signed["B-B"]) as pdf:
        del pdf.Root["/OutputIntents"]
        pdf.save(broken)
    with pytest.raises(AssertionError, match="2.4.3 : Invalid Color space"):
        _assert_pdfa_2b_by_preflight(broken)


# --- attacks against `digitize verify`, with the defaults, the level known from the manifest ------------


@pytest.fixture(scope="module")
def attacked(signed, folder, pki) -> dict[tuple[str, str], dict]:
    """Every attack on the B-LT and B-LTA file, each as ``<CODE>.pdf`` with the manifest the archive
    writes beside it, checked by one ``digitize verify --json`` (defaults: fetching on, hard-fail)."""
    work = folder / "attacks"
    work.mkdir()
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n', encoding="utf-8")
    cases = []
    for level in ("B-LT", "B-LTA"):
        for name, attack in ATTACKS.items():
            if name == "byte-flip-dss" and level == "B-LT":
                continue  # a B-LT's DSS is outside every signature: nothing to break but the data itself
            case = work / f"{level}-{name}"
            case.mkdir()
            damaged = attack(signed[level], case / f"{CODE}.pdf")
            (case / f"{CODE}.manifest.json").write_text(json.dumps({"document_code": CODE, "pades_level": level}),
                                                       encoding="utf-8")
            cases.append(((level, name), damaged))
    result = _digitize("verify", "--json", *(str(p) for _, p in cases), cwd=work)
    assert result.returncode == 10, result.stdout + result.stderr
    reports = json.loads(result.stdout)
    return {key: report for (key, _), report in zip(cases, reports, strict=True)}


ATTACK_CASES = [(level, name) for level in ("B-LT", "B-LTA") for name in ATTACKS
                if not (name == "byte-flip-dss" and level == "B-LT")]
#: checks that only judge the file against what the archive recorded
RECORD_CHECKS = {"pades_level", "identity", "archive_sha256"}


@pytest.mark.parametrize(("level", "attack"), ATTACK_CASES, ids=[f"{lv}-{a}" for lv, a in ATTACK_CASES])
def test_each_attack_fails_verify_with_the_defaults(attacked, level, attack):
    report = attacked[(level, attack)]
    failed = {c["name"] for c in report["checks"] if not c["ok"]}
    assert report["outcome"] == "invalid", report
    if attack in ("rollback", "dss-stripped"):
        # a cut-down file is a valid lower level: only the level recorded for it shows what it lost
        assert "pades_level" in failed
    else:  # caught by the file's own signatures, whatever the archive recorded
        assert failed - RECORD_CHECKS, report


def test_the_untouched_files_pass_the_same_verify(signed, folder, pki):
    work = folder / "untouched"
    work.mkdir()
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n', encoding="utf-8")
    paths = []
    for level in ("B-LT", "B-LTA"):
        (work / level).mkdir()
        paths.append(shutil.copyfile(signed[level], work / level / f"{CODE}.pdf"))
        (work / level / f"{CODE}.manifest.json").write_text(
            json.dumps({"document_code": CODE, "pades_level": level}), encoding="utf-8")
    result = _digitize("verify", *map(str, paths), cwd=work)
    assert result.returncode == 0, result.stdout


def test_bytes_appended_after_the_last_revision_fail_every_level(signed, folder, pki):
    """pyHanko reads up to the last %%EOF and ignores the rest; an archive file holds nothing after it."""
    work = folder / "appended"
    work.mkdir()
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n', encoding="utf-8")
    paths = [_append(signed[level], work / f"{level}.pdf") for level in LEVELS]
    trailing_eol = shutil.copyfile(signed["B-B"], work / "eol.pdf")
    trailing_eol.write_bytes(trailing_eol.read_bytes() + b"\r\n")
    result = _digitize("verify", "--json", *map(str, paths), str(trailing_eol), cwd=work)
    reports = json.loads(result.stdout)
    for report in reports[:-1]:
        coverage = next(c for c in report["checks"] if c["name"] == "coverage")
        assert report["outcome"] == "invalid" and "appended after signing" in coverage["detail"], report
    assert reports[-1]["outcome"] == "valid", reports[-1]  # an end-of-line after %%EOF is not content


# --- signers that must not sign -------------------------------------------------------------------


def _self_signed_p12(path: Path, name: str) -> Path:
    """A PKCS#12 whose certificate is its own issuer, claiming ``name`` (an impostor's key)."""
    from datetime import datetime, timedelta, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, name),
                         x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=365))
            .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False), critical=True)
            .sign(key, hashes.SHA256()))
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"self", key, cert, None, serialization.BestAvailableEncryption(PASSWORD.encode())))
    return path


@pytest.mark.parametrize(("who", "says"), [
    ("expired", "expired on 2022-01-01"),
    ("revoked", "is revoked"),
    ("self-signed", "cannot be validated"),
    ("another-agency", "is not the agency of the signing key"),
])
def test_a_key_not_in_good_standing_is_refused_when_opened(pki, signed, folder, who, says):
    work = folder / f"refused-{who}"
    work.mkdir()
    if who in ("expired", "revoked"):
        p12 = pki.write_p12(who, PASSWORD.encode())
    elif who == "self-signed":
        p12 = _self_signed_p12(work / "self.p12", AGENCY)
    else:
        p12 = pki.write_p12("agency", PASSWORD.encode())
    _write_config(work, pki, p12, **({"agency_name": '"UBND xã Nhơn Bình"'} if who == "another-agency" else {}))
    result = _digitize("sign", str(signed["B-B"].with_name("scan.pdf")), "-o", "out.pdf", "--level", "B-T", cwd=work)
    assert result.returncode == 9, result.stdout + result.stderr
    assert says in result.stderr and PASSWORD not in result.stderr
    assert not (work / "out.pdf").exists()


def test_a_self_signed_impostor_signature_is_not_valid_for_verify_or_pyhanko(pki, signed, folder):
    """Signed outside digitize (pyHanko directly) with a self-signed key naming the agency."""
    from pyhanko.sign import fields, signers

    work = folder / "impostor"
    work.mkdir()
    p12 = _self_signed_p12(work / "self.p12", AGENCY)
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PASSWORD.encode())
    forged = work / f"{CODE}.pdf"
    with signed["B-B"].with_name("scan.pdf").open("rb") as src, forged.open("wb") as out:
        writer = IncrementalPdfFileWriter(src)
        signers.sign_pdf(writer, signers.PdfSignatureMetadata(field_name="Signature1",
                                                              subfilter=fields.SigSeedSubFilter.PADES),
                         signer=signer, output=out)
    (work / "digitize.toml").write_text(f'[signing]\ntrust_roots = ["{pki.root_pem}"]\n', encoding="utf-8")
    result = _digitize("verify", "--json", str(forged), cwd=work)
    assert result.returncode == 10, result.stdout
    failed = {c["name"] for c in json.loads(result.stdout)[0]["checks"] if not c["ok"]}
    assert "trust" in failed
    judged = _pyhanko("sign", "validate", "--trust", str(pki.root_pem), "--trust-replace", str(forged))
    assert judged.returncode != 0


# --- `digitize run` over the samples: the archived files judged the same way ---------------------

#: at 150 dpi, grey: ink is darker than 128 in a blob of at least 4 pixels (a scanner speck is one or two)
INK_DPI, INK_LEVEL, INK_MIN_BLOB = 150, 128, 4


def ink_blobs_under(pdf_path: Path, rect: tuple[float, float, float, float]) -> int:
    """Blobs of ink on page 1 (drawn by pdftoppm without annotations) inside ``rect`` (PDF points)."""
    import cv2
    from PIL import Image

    with pikepdf.open(pdf_path) as pdf:
        page = pdf.pages[0]
        left, _, _, top = (float(v) for v in page.get("/CropBox", page.MediaBox))
    prefix = pdf_path.with_name(pdf_path.stem + "-ink")
    subprocess.run(["pdftoppm", "-f", "1", "-l", "1", "-r", str(INK_DPI), "-gray", "-hide-annotations",
                    str(pdf_path), str(prefix)], check=True, timeout=120)
    (rendered,) = pdf_path.parent.glob(prefix.name + "*.pgm")
    pixels = np.asarray(Image.open(rendered))
    rendered.unlink()
    scale = INK_DPI / 72
    x0, y0, x1, y1 = rect
    region = pixels[int((top - y1) * scale):int((top - y0) * scale), int((x0 - left) * scale):int((x1 - left) * scale)]
    count, _, stats, _ = cv2.connectedComponentsWithStats((region < INK_LEVEL).astype(np.uint8), connectivity=8)
    return int(sum(1 for area in stats[1:, cv2.CC_STAT_AREA] if area >= INK_MIN_BLOB))


def _stamp_rect(pdf_path: Path) -> tuple[float, float, float, float]:
    """The visible signature widget's rectangle on page 1, read with pikepdf."""
    with pikepdf.open(pdf_path) as pdf:
        (rect,) = [tuple(float(v) for v in a.Rect) for a in pdf.pages[0].get("/Annots", [])
                   if a.get("/FT") == "/Sig" and float(a.Rect[2]) > float(a.Rect[0])]
    return rect


@pytest.fixture(scope="module")
def run_outputs(folder, pki) -> list[Path]:
    """The sample inbox through `digitize run` signing B-LTA with the test PKI; the archived PDFs."""
    from tests.conftest import SAMPLES

    if shutil.which("tesseract") is None or shutil.which("pdftoppm") is None:
        pytest.skip("needs tesseract and poppler")
    work = folder / "run"
    shutil.copytree(SAMPLES / "inbox", work / "var" / "inbox")
    _write_config(work, pki, pki.write_p12("agency", PASSWORD.encode()), pades_level='"B-LTA"')
    with (work / "digitize.toml").open("a", encoding="utf-8") as f:
        f.write("[intake]\nsettle_seconds = 0\n[ocr]\nworkers = 1\n")
    env = {"PREFECT_HOME": str(work / "prefect"), "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")} | ENGLISH | env
    result = subprocess.run([sys.executable, "-m", "digitize", "run"], cwd=work, capture_output=True, text=True,
                            timeout=1200, env=env | {"DIGITIZE_SIGNING__PKCS12_PASSWORD": PASSWORD})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    archived = sorted((work / "var" / "archive").rglob("*.pdf"))
    assert len(archived) == len([p for p in (SAMPLES / "inbox").rglob("*") if p.suffix in (".pdf", ".tif")]) + 1
    return archived


@pytest.mark.slow
@pytest.mark.tools
def test_run_outputs_pass_every_independent_judge(run_outputs, pki, folder):
    for path in run_outputs:
        assert structural_level(path) == "B-LTA", path.name
        for command in ("validate", "adesverify"):
            judged = _pyhanko("sign", command, "--pretty-print", "--trust", str(pki.root_pem), "--trust-replace",
                              str(path))
            assert judged.returncode == 0 and "judged VALID" in judged.stdout, (path.name, command, judged.stdout)
        sig = _pdfsig("-nocert", str(path))
        assert "Signature Validation: Signature is Valid." in sig.stdout.split("Signature #2")[0], sig.stdout
        _assert_pdfa_2b_by_preflight(path)
    verified = _digitize("verify", *map(str, run_outputs), cwd=folder / "run")
    assert verified.returncode == 0, verified.stdout


@pytest.mark.slow
@pytest.mark.tools
def test_run_outputs_stamp_covers_no_ink_measured_independently(run_outputs):
    for path in run_outputs:
        rect = _stamp_rect(path)
        assert ink_blobs_under(path, rect) == 0, path.name
        x0, y0, x1, y1 = rect
        width, height = x1 - x0, y1 - y0
        # the measure sees ink: the page's text a stamp-height or two below holds some
        below = [ink_blobs_under(path, (x0 - width / 2, y0 - k * height, x1, y1 - k * height)) for k in (1, 2, 3)]
        assert max(below) > 0, (path.name, below)


def test_a_timestamp_from_an_untrusted_tsa_moves_no_renewal_date(attacked, signed, pki):
    """Anyone may append a document timestamp; one whose TSA chains to no trusted root proves nothing."""
    from pyhanko.keys import load_cert_from_pemder

    from signing.renew import renewal_need

    report = attacked[("B-LTA", "untrusted-document-timestamp")]
    renewal = next(c for c in report["checks"] if c["name"] == "renewal")
    assert "Test Time Stamping Authority," in renewal["detail"] and "giả" not in renewal["detail"], renewal
    assert "2040-01-01" in renewal["detail"]
    forged = Path(report["path"])
    need = renewal_need(forged.read_bytes(), [load_cert_from_pemder(str(pki.root_pem))])
    assert need.provable_until is not None and need.provable_until.year == 2040
