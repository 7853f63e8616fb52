"""Issue 14 bench: words inside red seals left out of the text layer, on the sample dossiers.

The four sample results with a red seal (``samples/inbox``) through the scan
engine with ``ocr.seal_words_below`` off and on (reading order as Tesseract
reads, since the samples' truth interleaves the two header columns as
Tesseract does), CER of the engine's text against ``samples/truth``.

    .venv/bin/python bench/ocr_seals.py [--below 0,50,70]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from digitize import engine
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings

SAMPLES = Path(__file__).resolve().parent.parent / "samples"
SEALED = (
    "xa/phuoc-loc/000.31.25.H08-261120-0001-KQ1.pdf",
    "xa/nhon-binh/000.31.26.H08-261121-0001-KQ1.tif",
    "huyen/tuy-phuoc/000.20.30.H08-261118-0007-KQ1.pdf",
    "tinh/ttpvhcc/000.00.12.H08-261115-0003-KQ1.pdf",
)


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--below", default="0,50,70")
    args = parser.parse_args()
    meta = DocumentMeta("000.00.00.H00-260101-0001", "KQ", 1, "xa", "bench")
    with tempfile.TemporaryDirectory() as work, engine.PagePool(2) as pool:
        for below in (float(b) for b in args.below.split(",")):
            errors = length = 0
            start = time.monotonic()
            for name in SEALED:
                settings = OcrSettings(reading_order="tesseract", seal_words_below=below, workers=2)
                result = engine.scan_to_pdfa(SAMPLES / "inbox" / name, meta, Path(work) / f"{below}-{Path(name).stem}",
                                             settings, default_dpi=300, pool=pool)
                truth = normalize("\n".join(p.read_text(encoding="utf-8") for p in
                                            sorted((SAMPLES / "truth" / Path(name).stem).glob("page-*.txt"))))
                errors += Levenshtein.distance(normalize(result.text), truth)
                length += len(truth)
            print(f"seal_words_below={below:g}: CER {errors / length:.4f} ({errors}/{length}), "
                  f"{time.monotonic() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
