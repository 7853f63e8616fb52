"""Tesseract: page orientation and OCR into a text-only PDF page.

Tesseract is run through :func:`digitize.tools.run` (a required timeout, one
OpenMP thread, stderr kept on failure). One run per page writes both the
text-only PDF page (``-c textonly_pdf=1``: invisible text, no image) that is
grafted under the page image, and a TSV of words with their confidences.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from digitize import files, tools
from digitize.errors import ToolError, ToolTimeoutError
from digitize.models import nfc

#: Orientation detection needs no more than this resolution and runs faster below it.
OSD_DPI = 150
#: Below this OSD confidence the page is left as it is.
OSD_MIN_CONFIDENCE = 2.0


#: SHA-256 of the integer "best" Vietnamese LSTM model (npm ``@tesseract.js-data/vie`` 1.0.0,
#: ``4.0.0_best_int``) that ``run.sh setup`` installs into ``var/tessdata``.
BEST_INT_VIE_SHA256 = "112f6fd1d04ab4cb0208cad9cada8de214ae33a1e4db3750ffcda69262aef0a8"


def vie_model(tessdata_dir: str = "") -> str:
    """Which Vietnamese model Tesseract reads: "best_int", "fast (OS package)", "other" or "missing"."""
    folder = tools.tessdata_folder(tessdata_dir)
    model = folder / "vie.traineddata" if folder else None
    if model is None or not model.is_file():
        return "missing"
    if hashlib.sha256(model.read_bytes()).hexdigest() == BEST_INT_VIE_SHA256:
        return "best_int"
    return "other" if tessdata_dir else "fast (OS package)"


@dataclass(frozen=True)
class OcrPage:
    """What Tesseract found on one page."""

    number: int
    text_pdf: Path
    text: str
    confidence: float
    words: int


def detect_rotation(gray: np.ndarray, dpi: float, work_file: Path, *, timeout: float, tessdata_dir: str = "") -> int:
    """Clockwise rotation (0, 90, 180, 270) that makes the page upright, by Tesseract OSD.

    Returns 0 when OSD is unsure or finds too little text to tell.
    """
    scale = min(1.0, OSD_DPI / dpi)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    ok, data = cv2.imencode(work_file.suffix, small)
    if not ok:
        raise ToolError(f"could not encode the orientation image {work_file.name}")
    files.write_bytes(work_file, data.tobytes())
    try:
        proc = tools.run(
            ["tesseract", *tools.tessdata_args(tessdata_dir), str(work_file), "-", "--psm", "0", "-l", "osd",
             "--dpi", str(round(dpi * scale))],
            timeout=timeout,
            env=tools.SINGLE_THREAD_ENV,
        )
    except ToolTimeoutError:
        raise
    except ToolError as e:
        if "Too few characters" in e.stderr or "0 dpi" in e.stderr:
            return 0
        raise
    return parse_osd(proc.stdout.decode("utf-8", errors="replace"))


def parse_osd(output: str) -> int:
    """Read Tesseract's OSD report; 0 unless it is confident."""
    rotate = re.search(r"Rotate:\s*(\d+)", output)
    confidence = re.search(r"Orientation confidence:\s*([\d.]+)", output)
    if not rotate or not confidence or float(confidence.group(1)) < OSD_MIN_CONFIDENCE:
        return 0
    return int(rotate.group(1)) % 360


def ocr_page(
    image_path: Path, number: int, dpi: float, out_base: Path, *, languages: str, timeout: float,
    tessdata_dir: str = "",
) -> OcrPage:
    """OCR one cleaned page image into ``<out_base>.pdf`` (text only) and ``<out_base>.tsv``,
    with the models of ``tessdata_dir`` (empty: the OS default folder)."""
    tools.run(
        ["tesseract", *tools.tessdata_args(tessdata_dir), str(image_path), str(out_base), "-l", languages, "--dpi", str(round(dpi)),
         "-c", "textonly_pdf=1", "pdf", "tsv"],
        timeout=timeout,
        env=tools.SINGLE_THREAD_ENV,
        output_dir=out_base.parent,
    )
    for written in (Path(f"{out_base}.pdf"), Path(f"{out_base}.tsv")):
        tools.check_output(written, "tesseract")
    tsv = Path(f"{out_base}.tsv").read_text(encoding="utf-8")
    text, confidence, words = read_tsv(tsv)
    return OcrPage(number, Path(f"{out_base}.pdf"), text, confidence, words)


def read_tsv(tsv: str) -> tuple[str, float, int]:
    """Text (lines joined, NFC), mean word confidence and word count from Tesseract's TSV."""
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    lines: dict[tuple[str, str, str, str], list[str]] = {}
    confidences = []
    for row in reader:
        word = (row.get("text") or "").strip()
        if row.get("level") != "5" or not word:
            continue
        key = (row["page_num"], row["block_num"], row["par_num"], row["line_num"])
        lines.setdefault(key, []).append(word)
        conf = float(row["conf"])
        if conf >= 0:
            confidences.append(conf)
    text = "\n".join(" ".join(words) for words in lines.values())
    mean = sum(confidences) / len(confidences) if confidences else 0.0
    return nfc(text), round(mean, 1), len(confidences)
