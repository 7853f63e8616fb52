"""Signing throughput per PAdES level: a kept SigningSession against plain per-document pyHanko calls.

Runs the test PKI of the tests (Certomancer: TSA, OCSP, CRL on 127.0.0.1) in
this process, signs the same one-page PDF/A ``--docs`` times at each level:

- ``session``: one :class:`signing.session.SigningSession` (key, timestamp
  client, validation context loaded once), ``--workers`` threads so network
  waits overlap, the Decree 30 stamp on every document;
- ``plain``: what a script calling pyHanko per document does: load the
  PKCS#12, make a timestamp client and a validation context, sign (pyHanko's
  default invisible signature, no stamp), one document after the other;
- ``fresh``: :func:`signing.sign.sign_pdf` (same output as the session: the
  Decree 30 stamp) with the key, timestamp client and validation context made
  again for every document, one after the other.

Usage: .venv/bin/python bench/sign.py [--docs 40] [--workers 4] [--levels B-B,B-T,B-LT,B-LTA]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from io import BytesIO
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from pyhanko.keys import load_certs_from_pemder  # noqa: E402
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter  # noqa: E402
from pyhanko.sign import fields, signers  # noqa: E402
from pyhanko.sign.timestamps.requests_client import RequestsHTTPTimeStamper  # noqa: E402
from pyhanko_certvalidator import ValidationContext  # noqa: E402

from digitize.models import PADES_LEVELS as LEVELS  # noqa: E402
from digitize.settings import SigningSettings  # noqa: E402
from signing.identity import load_signer  # noqa: E402
from signing.session import open_signing_session  # noqa: E402
from signing.sign import sign_pdf  # noqa: E402
from tests.signing_helpers import make_pdfa, start_test_pki  # noqa: E402

PASSWORD = b"bench"


def session_run(settings: SigningSettings, src: Path, out: Path, docs: int, workers: int) -> float:
    """Documents per second with one kept session (opening it included)."""
    start = time.perf_counter()
    with open_signing_session(settings, font_cache_dir=out / "fonts") as session:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(lambda i: session.sign(src, out / f"s-{i}.pdf"), range(docs)))
    return docs / (time.perf_counter() - start)


def plain_run(settings: SigningSettings, level: str, src: Path, out: Path, docs: int) -> float:
    """Documents per second with a fresh key, TSA client and validation context per document."""
    start = time.perf_counter()
    for i in range(docs):
        signer = signers.SimpleSigner.load_pkcs12(str(settings.pkcs12), passphrase=PASSWORD)
        roots = list(load_certs_from_pemder([str(p) for p in settings.trust_roots]))
        context = ValidationContext(trust_roots=roots, allow_fetching=True)
        long_term = level in ("B-LT", "B-LTA")
        meta = signers.PdfSignatureMetadata(
            field_name="Signature1", subfilter=fields.SigSeedSubFilter.PADES, md_algorithm="sha256",
            validation_context=context if long_term else None, embed_validation_info=long_term,
            use_pades_lta=level == "B-LTA",
        )
        timestamper = RequestsHTTPTimeStamper(settings.tsa_url) if level != "B-B" else None
        with src.open("rb") as f:
            writer = IncrementalPdfFileWriter(BytesIO(f.read()))
        output = BytesIO()
        signers.sign_pdf(writer, meta, signer=signer, timestamper=timestamper, output=output)
        (out / f"p-{i}.pdf").write_bytes(output.getvalue())
    return docs / (time.perf_counter() - start)


def fresh_run(settings: SigningSettings, level: str, src: Path, out: Path, docs: int) -> float:
    """Documents per second with our stamp but nothing kept between documents."""
    start = time.perf_counter()
    for i in range(docs):
        loaded = load_signer(settings.pkcs12, PASSWORD)
        roots = list(load_certs_from_pemder([str(p) for p in settings.trust_roots]))
        context = ValidationContext(trust_roots=roots, allow_fetching=True)
        timestamper = RequestsHTTPTimeStamper(settings.tsa_url) if level != "B-B" else None
        sign_pdf(src, out / f"f-{i}.pdf", loaded, agency_name=settings.agency_name, pades_level=level,
                 font_cache_dir=out / "fonts", timestamper=timestamper, validation_context=context)
    return docs / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--levels", default=",".join(LEVELS))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sign-") as tmp:
        folder = Path(tmp)
        with start_test_pki(folder / "pki") as pki:
            src = make_pdfa(folder / "in.pdf")
            settings = SigningSettings(
                pkcs12=pki.write_p12("agency", PASSWORD), pkcs12_password=PASSWORD.decode(),
                agency_name="UBND xã Phước Lộc", trust_roots=(pki.root_pem,), tsa_url=pki.tsa_url,
            )
            session_run(settings, src, folder, 2, 1)  # warm the font cache and imports
            print(f"{'level':6} {'session docs/s':>15} {'fresh docs/s':>13} {'plain docs/s':>13} "
                  f"{'vs fresh':>9} {'vs plain':>9}   ({args.docs} docs, {args.workers} threads)")
            for level in args.levels.split(","):
                level_settings = SigningSettings(**{**settings.__dict__, "pades_level": level})
                fast = session_run(level_settings, src, folder, args.docs, args.workers)
                fresh = fresh_run(level_settings, level, src, folder, args.docs)
                plain = plain_run(level_settings, level, src, folder, args.docs)
                print(f"{level:6} {fast:15.1f} {fresh:13.1f} {plain:13.1f} {fast / fresh:8.1f}x {fast / plain:8.1f}x",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
