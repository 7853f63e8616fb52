"""Small real fixtures for the signing tests: PDFs, certificates, tampering."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
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
    """A one-page PDF/A-2b with a little drawing on it (what the pipeline hands to signing)."""
    return make_pdfa(path, page_size=page_size)


def make_plain_pdf(path: Path, *, page_size: tuple[int, int] = A4) -> Path:
    """A one-page PDF that is not PDF/A (no XMP, no OutputIntent)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=page_size)
    pdf.pages[0].Contents = pdf.make_stream(b"0.5 g 72 72 200 100 re f")
    pdf.save(path)
    return path


def make_pdfa(path: Path, *, page_size: tuple[int, int] = A4, title: str = "Bản sao thử") -> Path:
    """A one-page PDF/A-2b (pikepdf.pdfa writes and validates it)."""
    import pikepdf.pdfa

    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=page_size)
    pdf.pages[0].Contents = pdf.make_stream(b"0.5 g 72 72 200 100 re f")
    with pdf.open_metadata(set_pikepdf_as_editor=False) as xmp:
        xmp["dc:title"] = title
    pikepdf.pdfa.save(pdf, path, "2b")
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


def add_annotation_incrementally(path: Path, *, flags: int = 4) -> None:
    """Append an incremental update that puts a text note on page 1 (an edit after signing); ``flags``
    its /F (4: printable; 2: hidden, which PDF/A forbids)."""
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        page_ref = writer.root["/Pages"]["/Kids"].raw_get(0)
        page = page_ref.get_object()
        note = writer.add_object(generic.DictionaryObject({
            generic.NameObject("/Type"): generic.NameObject("/Annot"),
            generic.NameObject("/Subtype"): generic.NameObject("/Text"),
            generic.NameObject("/Rect"): generic.ArrayObject([generic.NumberObject(n) for n in (72, 400, 92, 420)]),
            generic.NameObject("/Contents"): generic.TextStringObject("sửa sau khi ký"),
            generic.NameObject("/F"): generic.NumberObject(flags),
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


def change_metadata_incrementally(path: Path, *, info: dict[str, str] | None = None,
                                  xmp: tuple[bytes, bytes] | None = None, new_xmp_object: bool = False) -> None:
    """Append an update that changes only what is asked: /Info entries, and/or one replacement in the XMP.

    pyHanko's writer is kept from refreshing the metadata itself, so the update
    holds exactly the forged change. ``new_xmp_object`` writes the XMP as a new
    object (the catalog pointed at it) instead of overriding the old one.
    """
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        writer._update_meta = lambda: None  # a forger does not let the writer touch dates
        if info:
            info_ref = writer.trailer.raw_get("/Info")
            info_dict = info_ref.get_object()
            for key, value in info.items():
                info_dict[generic.NameObject(key)] = generic.TextStringObject(value)
            writer.mark_update(info_ref)
        if xmp:
            old, new = xmp
            ref = writer.root.raw_get("/Metadata")
            data = ref.get_object().data
            assert old in data, old
            stream = generic.StreamObject({generic.NameObject("/Type"): generic.NameObject("/Metadata"),
                                           generic.NameObject("/Subtype"): generic.NameObject("/XML")},
                                          stream_data=data.replace(old, new))
            if new_xmp_object:
                writer.root[generic.NameObject("/Metadata")] = writer.add_object(stream)
                writer.update_root()
            else:
                writer.objects[(ref.generation, ref.idnum)] = stream
        writer.write_in_place()


def cut_back_to_signed_revision(src: Path, dst: Path) -> Path:
    """Copy ``src`` without what was appended after its first signature (a B-LTA rolled back to B-T)."""
    import re

    data = src.read_bytes()
    _, _, second, length = (int(v) for v in re.search(rb"/ByteRange\s*\[\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)",
                                                      data).groups())
    dst.write_bytes(data[:second + length])
    return dst


def strip_dss_incrementally(path: Path) -> None:
    """Append an update that removes the DSS (the embedded validation data) from the catalog."""
    with path.open("rb+") as f:
        writer = IncrementalPdfFileWriter(f)
        del writer.root["/DSS"]
        writer.update_root()
        writer.write_in_place()


# --- the test PKI (Certomancer), served on 127.0.0.1 ------------------------------

PKI_CONFIG = Path(__file__).parent / "pki" / "certomancer.yml"
PKI_ARCH = "digitize"
PKI_KEYS = ("root", "interm", "ocsp", "tsa", "tsa2", "agency", "revoked", "expired")


@dataclass(frozen=True)
class TestPki:
    """A running test PKI: its URLs, the root to trust, and helpers to export keys."""

    __test__ = False  # not a test class, despite the name

    base_url: str
    folder: Path
    arch: object = field(repr=False)

    @property
    def tsa_url(self) -> str:
        """The RFC 3161 timestamp service."""
        return f"{self.base_url}/{PKI_ARCH}/tsa/tsa"

    @property
    def tsa2_url(self) -> str:
        """A second timestamp service whose certificate outlives the first one's (2044 against 2040)."""
        return f"{self.base_url}/{PKI_ARCH}/tsa/tsa2"

    @property
    def root_pem(self) -> Path:
        """The root CA certificate, to trust."""
        return self.write_cert("root")

    def write_cert(self, label: str) -> Path:
        """Write the certificate ``label`` as PEM into the PKI folder."""
        path = self.folder / f"{label}.cert.pem"
        cert = x509.load_der_x509_certificate(self.arch.get_cert(label).dump())
        path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        return path

    def write_p12(self, label: str, password: bytes) -> Path:
        """Write the key and chain of ``label`` as a PKCS#12 file."""
        path = self.folder / f"{label}-{len(password)}.p12"
        path.write_bytes(self.arch.package_pkcs12(label, password=password))
        return path

    def write_key_pem(self, label: str) -> Path:
        """Write the private key of ``label`` unencrypted (PKCS#8 PEM), e.g. for SoftHSM2."""
        return self.folder / "keys" / f"{label}.key.pem"

    def chain_der(self, label: str) -> list[bytes]:
        """DER certificates of ``label``'s issuers (not the certificate itself)."""
        return [self.arch.get_cert(c).dump() for c in self.arch.get_chain(label)]

    def cert_der(self, label: str) -> bytes:
        """DER of the certificate ``label``."""
        return self.arch.get_cert(label).dump()


def _write_pki_keys(key_dir: Path) -> None:
    key_dir.mkdir(parents=True, exist_ok=True)
    for label in PKI_KEYS:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        (key_dir / f"{label}.key.pem").write_bytes(pem)


def _quiet_handler():
    from werkzeug.serving import WSGIRequestHandler

    class Quiet(WSGIRequestHandler):
        def log_request(self, *args, **kwargs) -> None:  # no line per OCSP/TSA request
            pass

    return Quiet


@contextmanager
def start_test_pki(folder: Path, *, port: int = 0) -> Iterator[TestPki]:
    """Load the Certomancer config and serve TSA, OCSP and CRLs on a free port (or ``port``).

    Keys are made fresh unless ``folder`` already holds them: the same PKI can
    be started again later (on the same port, so the URLs in its certificates
    still answer), e.g. in a process whose clock has been moved.
    """
    from certomancer.integrations.animator import Animator, AnimatorArchStore
    from certomancer.registry import CertomancerConfig
    from werkzeug.serving import make_server

    if not (folder / "keys").is_dir():
        _write_pki_keys(folder / "keys")
    holder: dict[str, object] = {}

    def app(environ, start_response):  # the animator is made once the port is known
        return holder["animator"](environ, start_response)

    server = make_server("127.0.0.1", port, app, threaded=True, request_handler=_quiet_handler())
    base_url = f"http://127.0.0.1:{server.server_port}"
    config = CertomancerConfig.from_file(str(PKI_CONFIG), key_search_dir=str(folder), external_url_prefix=base_url)
    arch = config.get_pki_arch(PKI_ARCH)
    holder["animator"] = Animator(AnimatorArchStore(config.pki_archs), with_web_ui=False)
    thread = threading.Thread(target=server.serve_forever, name="test-pki", daemon=True)
    thread.start()
    try:
        yield TestPki(base_url=base_url, folder=folder, arch=arch)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def renew_with_restarted_pki(folder: str, port: str, src: str, dst: str, root_pem: str) -> None:
    """Start the test PKI kept in ``folder`` again on ``port`` and renew ``src`` into ``dst`` with its tsa2.

    Meant for a child process whose clock libfaketime has moved: the renewal
    happens "then", with the revocation data the PKI serves at that time.
    """
    from digitize.settings import SigningSettings
    from signing.renew import renew_timestamp

    with start_test_pki(Path(folder), port=int(port)) as pki:
        settings = SigningSettings(trust_roots=(Path(root_pem),), tsa_url=pki.tsa2_url, pades_level="B-LTA",
                                   demo_dir=Path(folder) / "demo", tsa_retries=0)
        renew_timestamp(Path(src), Path(dst), settings)


def free_port_url() -> str:
    """An http URL on 127.0.0.1 where nothing listens (a timestamp authority that is down)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/tsa"


# --- a timestamp authority that is down, counting the requests it refuses --------


@contextmanager
def broken_tsa() -> Iterator[tuple[str, list[float]]]:
    """An HTTP server on 127.0.0.1 that answers every request 503; yields (url, request times)."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Response

    hits: list[float] = []

    def app(environ, start_response):
        hits.append(time.monotonic())
        return Response("down for maintenance", status=503)(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_quiet_handler())
    thread = threading.Thread(target=server.serve_forever, name="broken-tsa", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/tsa", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --- a SoftHSM2 token holding the agency key ---------------------------------------

SOFTHSM_MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
)
TOKEN_LABEL = "digitize-test"
TOKEN_PIN = "246810"


def softhsm_module() -> Path | None:
    """The SoftHSM2 PKCS#11 module, if installed."""
    return next((p for p in SOFTHSM_MODULES if p.is_file()), None)


def make_softhsm_token(folder: Path, pki: TestPki, label: str = "agency") -> Path:
    """A SoftHSM2 token in ``folder`` with ``label``'s key and certificate and its CA chain.

    Sets ``SOFTHSM2_CONF`` for this process (SoftHSM2 reads it when the module
    is first loaded). Returns the module path.
    """
    import os
    import subprocess

    from pkcs11 import Attribute, CertificateType, ObjectClass
    from pkcs11 import lib as p11_lib

    module = softhsm_module()
    tokens = folder / "tokens"
    tokens.mkdir(parents=True, exist_ok=True)
    conf = folder / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    util = ["softhsm2-util"]
    subprocess.run([*util, "--init-token", "--free", "--label", TOKEN_LABEL, "--pin", TOKEN_PIN,
                    "--so-pin", "13579"], check=True, capture_output=True, timeout=60)
    subprocess.run([*util, "--import", str(pki.write_key_pem(label)), "--token", TOKEN_LABEL, "--label", label,
                    "--id", "01", "--pin", TOKEN_PIN], check=True, capture_output=True, timeout=60)
    token = p11_lib(str(module)).get_token(token_label=TOKEN_LABEL)
    with token.open(rw=True, user_pin=TOKEN_PIN) as session:
        for cert_label, der, ident in ((label, pki.cert_der(label), b"\x01"),
                                       *((f"ca-{i}", d, bytes([0x10 + i])) for i, d in enumerate(pki.chain_der(label)))):
            cert = x509.load_der_x509_certificate(der)
            session.create_object({
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.LABEL: cert_label,
                Attribute.ID: ident,
                Attribute.SUBJECT: cert.subject.public_bytes(),
                Attribute.VALUE: der,
            })
    return module
