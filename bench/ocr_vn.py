"""Issue 14 bench: the Vietnamese model, reading order and tone-mark correction on ``vn-docs``.

Reads the 99 synthetic Vietnamese documents of ``vn-docs`` (a folder of
``docs/*.pdf`` with ``truth.json``, given with ``--data``) through the scan
engine (:func:`digitize.engine.scan_to_pdfa`, as ``digitize ocr`` does), once
per Tesseract model, and scores the text against the truth: CER = Levenshtein
distance / truth length, NFC, whitespace collapsed.

Split: documents are grouped by their source text (``synth_form_03_00`` ..
``_03`` are one text with four kinds of scan artefacts); a group is **held
out** when the first byte of the SHA-256 of its name is below 86 (about a
third). Nothing is tuned on held-out groups: they are only scored.

The engine keeps each page's Tesseract TSV (one per orientation it read: the
bench takes the one of the orientation the engine chose); the text-only variants (reading
order, tone-mark correction) are computed from those TSVs by the same library
functions the engine uses, so one OCR pass per model serves every variant.
OCR is timed in wall seconds (two page workers); the text variants in CPU
seconds of this process per page (``text s/page``: reading the TSV, ordering,
correcting). ``no-title`` columns (Tesseract's own reading only): the CER without
the page's printed title, which ``truth.json`` leaves out (see :func:`printed_title`).

    .venv/bin/python bench/ocr_vn.py --data ../shared/data/vn-docs [--models fast,best] [--limit N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

from rapidfuzz.distance import Levenshtein

from digitize import engine, ocr
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings

REPO = Path(__file__).resolve().parent.parent
MODELS = {"fast": "", "best": str(REPO / "var" / "tessdata")}
#: Confidence thresholds of the tone-mark correction tried, and the one measured with the layout.
TONE_BELOW = (50.0, 70.0, 80.0, 90.0)
TONE_DEFAULT = 80.0


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def distance(found: str, truth: str) -> tuple[int, int]:
    """(edit distance, truth length) after normalizing both."""
    truth = normalize(truth)
    return Levenshtein.distance(normalize(found), truth), max(1, len(truth))


def printed_title(plain: str, truth: str) -> str:
    """The text Tesseract read before the first character of the truth's text, in its own order.

    Every vn-docs page prints a title above its text ("Tuyên ngôn QTNQ — Đoạn 8",
    "Trích Tua Truyen Kieu (2)") that ``truth.json`` leaves out: reading it is right,
    yet it counts as inserted characters. This is that title (a leading insertion in
    the optimal alignment), so that the CER of the text the truth does contain can be
    given beside the CER as defined.
    """
    truth, plain = normalize(truth), normalize(plain)
    for op in Levenshtein.opcodes(truth, plain):
        if op.tag == "equal":
            return ""
        if op.tag == "insert" and op.src_start == 0:
            return plain[op.dest_start:op.dest_end].strip()
    return ""


def group(doc_id: str) -> str:
    """The source-text group of a document: ``synth_form_03_01`` -> ``synth_form_03``."""
    return re.sub(r"_(\d\d)_\d\d$", r"_\1", doc_id)


def held_out(doc_id: str) -> bool:
    return hashlib.sha256(group(doc_id).encode()).digest()[0] < 86


def ocr_all(docs: list[Path], model: str, work: Path, pool: engine.PagePool) -> tuple[dict[str, list[Path]], float]:
    """Run the engine on every document with ``model``; the TSV files of each document's pages."""
    settings = OcrSettings(tessdata_dir=MODELS[model], workers=2)
    tsvs: dict[str, list[Path]] = {}
    start = time.monotonic()
    for n, doc in enumerate(docs, 1):
        out = work / model / doc.stem
        meta = DocumentMeta("000.00.00.H00-260101-0001", "KQ", 1, "xa", "bench")
        if not (out / "done").exists():
            result = engine.scan_to_pdfa(doc, meta, out, settings, default_dpi=300, pool=pool)
            chosen = [f"page-{p.number:03d}-r{p.rotation}.text.tsv" for p in result.pages if not p.blank]
            (out / "chosen.json").write_text(json.dumps(chosen))
            (out / "done").touch()
        tsvs[doc.stem] = [out / name for name in json.loads((out / "chosen.json").read_text())]
        print(f"\r{model}: {n}/{len(docs)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return tsvs, time.monotonic() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="the vn-docs folder (docs/*.pdf, truth.json)")
    parser.add_argument("--models", default="fast,best")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "ocr_vn")
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents (a quick look)")
    args = parser.parse_args()
    truth = {k: "\n".join(p["text"] for p in v if not p.get("blank")) for k, v in
             json.loads((args.data / "truth.json").read_text(encoding="utf-8")).items()}
    docs = sorted(args.data.glob("docs/*.pdf"))[: args.limit or None]
    rows = []
    with engine.PagePool(2) as pool:
        for model in args.models.split(","):
            tsvs, wall = ocr_all(docs, model, args.work, pool)
            pages = sum(len(t) for t in tsvs.values())
            for variant, reader in VARIANTS.items():
                sums = {"dev": [0, 0, 0], "held-out": [0, 0, 0]}
                start = time.process_time()
                for doc in docs:
                    text = "\n".join(reader(t) for t in tsvs[doc.stem])
                    d, n = distance(text, truth[doc.stem])
                    split = sums["held-out" if held_out(doc.stem) else "dev"]
                    split[0] += d
                    split[1] += n
                    if variant == "plain":  # the title is a leading insertion only in Tesseract's own order
                        title = printed_title(text, truth[doc.stem])
                        split[2] += distance(normalize(text).replace(title, " ", 1), truth[doc.stem])[0]
                spent = time.process_time() - start
                dev, held = sums["dev"], sums["held-out"]
                rows.append((model, variant, dev[0] / max(1, dev[1]), held[0] / max(1, held[1]),
                             dev[2] / max(1, dev[1]), held[2] / max(1, held[1]), spent / max(1, pages), wall, pages))
    print(f"{'model':6} {'variant':22} {'CER dev':>8} {'CER held':>8} {'no-title dev':>12} {'no-title held':>13} "
          f"{'text s/page':>11} {'OCR wall s':>10} pages")
    for model, variant, dev, held, dev_body, held_body, per_page, wall, pages in rows:
        body = f"{dev_body:12.4f} {held_body:13.4f}" if variant == "plain" else f"{'-':>12} {'-':>13}"
        print(f"{model:6} {variant:22} {dev:8.4f} {held:8.4f} {body} {per_page:11.4f} {wall:10.1f} {pages}")
    n_held = sum(held_out(d.stem) for d in docs)
    print(f"{len(docs)} documents: {len(docs) - n_held} dev, {n_held} held out")
    return 0


def _plain(tsv: Path) -> str:
    return ocr.read_tsv(tsv.read_text(encoding="utf-8"))[0]


def _finished(layout_order: bool, tone_below: float):
    """The text of the page as :func:`digitize.ocr.finish_layer` leaves it (on a copy of its text layer)."""
    def read(tsv: Path) -> str:
        text = tsv.read_text(encoding="utf-8")
        copy = Path(tempfile.gettempdir()) / f"ocr_vn-{os.getpid()}.pdf"
        shutil.copy(tsv.with_suffix(".pdf"), copy)
        try:
            return ocr.finish_layer(copy, text, layout_order=layout_order, tone_below=tone_below) or _plain(tsv)
        finally:
            copy.unlink()
    return read


#: Text variants computed from a page's TSV and text layer (the engine's own reader first).
VARIANTS = {"plain": _plain}
for _below in TONE_BELOW:
    VARIANTS[f"tone<{_below:g}"] = _finished(False, _below)
VARIANTS["layout"] = _finished(True, 0)
VARIANTS[f"layout+tone<{TONE_DEFAULT:g}"] = _finished(True, TONE_DEFAULT)

if __name__ == "__main__":
    sys.exit(main())
