"""Tesseract: page orientation and OCR into a text-only PDF page.

Tesseract reads a page through pytesseract (:func:`run_tesseract`; orientation
detection through :func:`digitize.tools.run`), both with a required timeout, one
OpenMP thread and stderr kept on failure. One run per page writes both the
text-only PDF page (``-c textonly_pdf=1``: invisible text, no image) that is
grafted under the page image, and a TSV of words with their confidences.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import hashlib
import io
import re
import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pikepdf
import pytesseract

from digitize import files, layout, tesseract_api, tonemarks, tools
from digitize.errors import ToolError, ToolTimeoutError
from digitize.i18n import _
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
        raise ToolError(_("could not encode the orientation image {name}", name=work_file.name))
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
    tessdata_dir: str = "", layout_order: bool = False, tone_below: float = 0.0,
    seals: tuple[tuple[int, int, int, int], ...] = (), seal_below: float = 0.0,
    reader: tesseract_api.Reader | None = None,
) -> OcrPage:
    """OCR one cleaned page image into ``<out_base>.pdf`` (text only) and ``<out_base>.tsv``,
    with the models of ``tessdata_dir`` (empty: the OS default folder).

    With ``layout_order`` the text layer is read in the blocks of the Decree 30 layout
    (:mod:`digitize.layout`); with ``tone_below`` > 0, words of a lower confidence get the
    tone marks their context asks for (:mod:`digitize.tonemarks`); words of a confidence under
    ``seal_below`` inside one of the ``seals`` boxes (pixels) are left out. These rewrite the text
    layer in place: every word kept keeps its box.

    ``reader`` (a page worker's Tesseract kept loaded, :class:`digitize.tesseract_api.Reader`) reads
    the page when given; else the ``tesseract`` program runs for it (:func:`run_tesseract`)."""
    if reader is not None:
        reader.read(image_path, out_base, languages=languages, dpi=dpi, timeout=timeout, tessdata_dir=tessdata_dir)
    else:
        run_tesseract(image_path, out_base, languages=languages, dpi=dpi, timeout=timeout, tessdata_dir=tessdata_dir)
    for written in (Path(f"{out_base}.pdf"), Path(f"{out_base}.tsv")):
        tools.check_output(written, "tesseract")
    tsv = tsv_rows(Path(f"{out_base}.tsv").read_text(encoding="utf-8"))  # parsed once for every use below
    text, confidence, words = read_tsv(tsv)
    if layout_order or tone_below > 0 or (seals and seal_below > 0):
        text = finish_layer(Path(f"{out_base}.pdf"), tsv, layout_order=layout_order, tone_below=tone_below,
                            seals=seals, seal_below=seal_below) or text
    return OcrPage(number, Path(f"{out_base}.pdf"), text, confidence, words)


def run_tesseract(image_path: Path, out_base: Path, *, languages: str, dpi: float, timeout: float,
                  tessdata_dir: str = "") -> None:
    """Tesseract on the page file ``image_path`` as it is, through ``pytesseract.run_tesseract``: the
    text-only PDF page ``<out_base>.pdf`` and the TSV of words ``<out_base>.tsv`` in one run, at ``dpi``,
    with the models of ``tessdata_dir`` (empty: the OS default folder).

    As :func:`digitize.tools.run` would: one OpenMP thread, ``tesseract`` found on PATH, killed past
    ``timeout`` (:class:`ToolTimeoutError`, transient) or when the caller is interrupted (the page
    worker's alarm), :class:`MissingToolError` when it is not installed, :class:`ToolError` (or
    :class:`StorageFullError` for a full disk under ``out_base``) when it fails.
    """
    options = [*tools.tessdata_args(tessdata_dir), "--dpi", str(round(dpi)), "-c", "textonly_pdf=1",
               "-c", pytesseract.pytesseract.EXTENTION_TO_CONFIG["tsv"]]
    try:
        _pytesseract().run_tesseract(str(image_path), str(out_base), "pdf tsv", languages,
                                     config=shlex.join(options), timeout=timeout)
    except pytesseract.TesseractNotFoundError as e:
        raise tools.missing("tesseract") from e
    except pytesseract.TesseractError as e:
        raise tools.failure("tesseract", e.status, e.message, out_base.parent) from e
    except (OSError, UnicodeDecodeError) as e:  # not startable; a failure that wrote no UTF-8 on stderr
        raise ToolError(_("tesseract could not be run: {reason}", reason=e)) from e


@functools.cache
def _pytesseract():
    """pytesseract, set up once to start and stop Tesseract as :func:`digitize.tools.run` does.

    ``run_tesseract`` takes no environment and keeps the process it starts to itself, so two hooks
    of its module are replaced: the child's environment (``subprocess_args``) gets one OpenMP thread
    (:data:`digitize.tools.SINGLE_THREAD_ENV`) over this process's, and the wait (``timeout_manager``)
    is ``subprocess.run``'s: past the timeout, or when anything interrupts the wait (the page
    worker's alarm, a signal), the program is killed and reaped, and a timeout is
    :class:`ToolTimeoutError`. (pytesseract's own wait asks it to stop, gives it a second, kills it
    without reaping it and raises a bare RuntimeError; an interrupted wait left it running.)
    ``tesseract_cmd`` stays ``tesseract``, looked up on PATH at each run.
    """
    module = pytesseract.pytesseract
    subprocess_args = module.subprocess_args

    def one_thread_args(include_stdout: bool = True) -> dict:
        return {**subprocess_args(include_stdout), "env": tools.child_env(tools.SINGLE_THREAD_ENV)}

    @contextlib.contextmanager
    def waiting(proc: subprocess.Popen, seconds: float | None = None):
        try:
            try:
                stderr = proc.communicate(timeout=seconds or None)[1]
            except subprocess.TimeoutExpired as e:
                raise tools.timed_out("tesseract", seconds) from e
            yield stderr
        finally:
            if proc.returncode is None:  # past its timeout, or the wait was interrupted
                proc.kill()
                proc.wait()
            for pipe in (proc.stdin, proc.stdout, proc.stderr):
                pipe.close()

    module.subprocess_args, module.timeout_manager = one_thread_args, waiting
    return module


def finish_layer(text_pdf: Path, tsv: str | list[dict[str, str]], *, layout_order: bool, tone_below: float,
                 seals: tuple[tuple[int, int, int, int], ...] = (), seal_below: float = 0.0) -> str | None:
    """Put the words of Tesseract's text-only page ``text_pdf`` in reading order and correct the
    tone marks of unsure ones (see :func:`ocr_page`); the page's text, or None when the layer
    could not be matched word for word with the TSV (then it is left as Tesseract wrote it)."""
    words = read_words(tsv)
    if not words:
        return None
    order = layout.reading_order(words, page_width(tsv)) if layout_order else tesseract_lines(words)
    if seal_below > 0:
        order = layout.outside_seals(words, order, seals, seal_below)
    changes: dict[int, str] = {}
    if tone_below > 0:
        flat = [i for line in order for i in line]
        found = tonemarks.correct([words[i].text for i in flat], [words[i].conf for i in flat],
                                  tonemarks.load_model(), below=tone_below)
        changes = {flat[k]: text for k, text in found.items()}
    if not rewrite_layer(text_pdf, words, order, changes):
        return None
    fixed = [dataclasses.replace(w, text=changes[i]) if i in changes else w for i, w in enumerate(words)]
    return words_text(fixed, order)


def tesseract_lines(words: list[Word]) -> list[list[int]]:
    """The words' indexes line by line, in Tesseract's order."""
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(words):
        lines.setdefault(word.line, []).append(i)
    return list(lines.values())


def tsv_rows(tsv: str | list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of Tesseract's TSV (as given when already parsed): the functions below take either."""
    if isinstance(tsv, list):
        return tsv
    return list(csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE))


def page_width(tsv: str | list[dict[str, str]]) -> int:
    """The page's width in pixels, from the TSV's page row (0 when it has none)."""
    for row in tsv_rows(tsv):
        if row.get("level") == "1":
            return int(row["width"])
    return 0


def read_tsv(tsv: str | list[dict[str, str]]) -> tuple[str, float, int]:
    """Text (lines joined, NFC), mean word confidence and word count from Tesseract's TSV."""
    reader = tsv_rows(tsv)
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


@dataclass(frozen=True)
class Word:
    """One word of Tesseract's TSV: its text (NFC), confidence, box in pixels and line."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    line: tuple[int, int, int]  # (block, paragraph, line) as Tesseract numbered them

    @property
    def right(self) -> int:
        return self.left + self.width

    @property
    def bottom(self) -> int:
        return self.top + self.height


def read_words(tsv: str | list[dict[str, str]]) -> list[Word]:
    """The words of Tesseract's TSV, in its order (empty entries left out)."""
    words = []
    for row in tsv_rows(tsv):
        text = (row.get("text") or "").strip()
        if row.get("level") != "5" or not text:
            continue
        words.append(Word(nfc(text), float(row["conf"]), int(row["left"]), int(row["top"]), int(row["width"]),
                          int(row["height"]), (int(row["block_num"]), int(row["par_num"]), int(row["line_num"]))))
    return words


def words_text(words: list[Word], order: list[list[int]]) -> str:
    """Text of ``words`` read line by line: ``order`` lists each line's word indexes, in reading order."""
    return nfc("\n".join(" ".join(words[i].text for i in line) for line in order if line))


@dataclass(frozen=True)
class _Shown:
    """One word as Tesseract's text-only PDF draws it: its own text matrix, font, scale and string."""

    matrix: tuple[float, float, float, float, float, float]
    font: str
    size: float
    scale: float
    data: bytes  # UTF-16BE, as Tesseract writes it (a trailing space included)


def _shown_words(content: bytes | pikepdf.Page) -> list[_Shown] | None:
    """Each word drawn by a Tesseract text-only page, with its absolute text matrix; None when the
    content holds an operator Tesseract does not write (then the layer is left as it is)."""
    shown: list[_Shown] = []
    line = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    font, size, scale = "", 0.0, 100.0
    for operands, operator in pikepdf.parse_content_stream(content):
        op = str(operator)
        if op == "Tm":
            line = tuple(float(x) for x in operands)  # type: ignore[assignment]
        elif op == "Td":
            tx, ty = float(operands[0]), float(operands[1])
            a, b, c, d, e, f = line
            line = (a, b, c, d, tx * a + ty * c + e, tx * b + ty * d + f)
        elif op == "Tf":
            font, size = str(operands[0]), float(operands[1])
        elif op == "Tz":
            scale = float(operands[0])
        elif op == "TJ":
            data = b"".join(bytes(x) for x in operands[0] if isinstance(x, pikepdf.String))
            shown.append(_Shown(line, font, size, scale, data))
        elif op == "Tj":
            shown.append(_Shown(line, font, size, scale, bytes(operands[0])))
        elif op not in ("q", "Q", "cm", "BT", "ET", "Tr"):
            return None
    return shown


def rewrite_layer(text_pdf: Path, words: list[Word], order: list[list[int]], texts: dict[int, str]) -> bool:
    """Write Tesseract's text-only page again: its words in ``order`` (lines of word indexes; a word
    in no line is left out of the text layer), those in ``texts`` with a new text. Every word keeps
    its place, size and scale on the page. False (nothing written) when the page's words do not
    match ``words`` one to one."""
    with pikepdf.open(text_pdf, allow_overwriting_input=True) as pdf:
        page = pdf.pages[0]
        shown = _shown_words(page)
        if shown is None or len(shown) != len(words):
            return False
        out = [b"q 1 0 0 1 0 0 cm Q\n"]
        for line in order:
            for i in line:
                word = shown[i]
                data = word.data
                if i in texts:
                    trail = "\u0020" if data.endswith(b"\x00\x20") else ""
                    data = (texts[i] + trail).encode("utf-16-be")
                matrix = " ".join(f"{x:g}" for x in word.matrix)
                out.append(f"BT 3 Tr {matrix} Tm {word.font} {word.size:g} Tf {word.scale:g} Tz [ <".encode()
                           + data.hex().upper().encode() + b"> ] TJ ET\n")
        page.Contents = pdf.make_stream(b"".join(out))
        pdf.save(text_pdf)
    return True
