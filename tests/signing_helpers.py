"""Small real fixtures for the signing tests: PDFs, certificates, tampering."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pikepdf
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

A4 = (595, 842)


def make_pdf(path: Path, *, page_size: tuple[int, int] = A4) -> Path:
    """A one-page PDF with a little drawing on it (pikepdf, PDF 1.7)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=page_size)
    pdf.pages[0].Contents = pdf.make_stream(b"0.5 g 72 72 200 100 re f")
    pdf.save(path)
    return path


def _name(common_name: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
    ])


def make_ca(common_name: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    """A throw-away root CA (EC P-256, fast to make)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=3650))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def write_pem(path: Path, cert: x509.Certificate) -> Path:
    """Write ``cert`` as PEM."""
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def make_p12(
    path: Path,
    password: bytes,
    *,
    not_before: datetime,
    not_after: datetime,
    ca: tuple[ec.EllipticCurvePrivateKey, x509.Certificate],
) -> Path:
    """A PKCS#12 agency key whose certificate is valid from ``not_before`` to ``not_after``."""
    ca_key, ca_cert = ca
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("UBND xã Hết Hạn"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .sign(ca_key, hashes.SHA256())
    )
    data = pkcs12.serialize_key_and_certificates(
        b"test", key, cert, [ca_cert], serialization.BestAvailableEncryption(password)
    )
    path.write_bytes(data)
    return path


def flip_byte_in_signed_range(src: Path, dst: Path) -> Path:
    """Copy ``src`` with one byte of the header's binary comment (signed, harmless to parsing) flipped."""
    data = bytearray(src.read_bytes())
    offset = data.index(b"\n%") + 2  # first byte of the "%\xbf\xf7\xa2\xfe" line
    data[offset] ^= 0x01
    dst.write_bytes(bytes(data))
    return dst


def add_annotation_incrementally(path: Path) -> None:
    """Append an incremental update that puts a text note on page 1 (an edit after signing)."""
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
        page = page_ref.get_object()
        note = writer.add_object(generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 400, 92, 420)]),
            generic.NameObject("/Contents"): generic.TextStringObject("sửa sau khi ký"),
            generic.NameObject("/F"): generic.NumberObject(4),
        }))
        annots = page.raw_get("/Annots")
        if isinstance(annots, generic.IndirectObject):
            annots.get_object().append(note)
            writer.mark_update(annots)
        else:
            annots.append(note)
            writer.mark_update(page_ref)
        writer.write_in_place()


def change_info_incrementally(path: Path) -> None:
    """Append an incremental update that changes the document title (Info and XMP)."""
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        writer.document_meta.title = "Đã sửa sau khi ký"
        writer.write_in_place()
