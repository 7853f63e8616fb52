"""The scan engine: one input (file or folder) to one searchable PDF/A-2b.

Steps, each "file in, file out" inside one work folder with predictable names
(a kept work folder explains a failure)::

    page-001.src.ppm          the page at its native DPI (pages.render_page; .src.jpg: the
                              scanned JPEG of a PDF page), removed once read
    page-001.osd.png          a small grey copy for orientation detection
    page-001.display.jpg      the visible page: the scanner's JPEG as it is (else the scan encoded once), as it
                              lay on the glass; the PDF draws it turned upright, deskewed and cropped
    page-001-r0.ocr.pgm       the cleaned grey image Tesseract reads, turned by 0 degrees (removed once read)
    page-001-r0.text.pdf      Tesseract's invisible text layer for the page
    page-001-r0.text.tsv      its words and confidences
                              (-r90, -r180, -r270: a reading of the page turned otherwise)
    output.pdfa.pdf           the assembled PDF/A-2b

The input is checked whole first (:func:`pages.plan_pages`: bad inputs are
refused before any work). Pages are then rendered, cleaned and read in
parallel worker processes, one page per worker at a time (memory stays at
about one page per worker) and one Tesseract thread each; a page that runs
past ``page_timeout_seconds`` stops the document with a transient timeout.
Workers return small values (paths and numbers), never images.

Many inputs, each its own document (``digitize ocr --output-dir``), share one
pool through :func:`scan_each`.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
import os
import shutil
import signal
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import cv2
import numpy as np

from digitize import cleanup, files, i18n, layout, lifetime, ocr, pages, pdfa, tesseract_api, tools
from digitize.errors import BadInputError, ConfigError, DigitizeError, StoppedError, ToolError, ToolTimeoutError
from digitize.i18n import _
from digitize.models import DocumentMeta, signed_original_names
from digitize.settings import OcrSettings

T = TypeVar("T")

#: Decree 30/2020/NĐ-CP, Phụ lục I: a digital copy is scanned at 200 dpi or more.
MIN_DPI = 200
#: A page read as it is with a mean word confidence below this gets orientation detection.
ORIENTATION_RECHECK_CONFIDENCE = 70.0
#: A reading of a page turned by the orientation guess, below that confidence, is kept over the reading
#: without the guess only when better by this many points.
GUESS_MARGIN = 10.0


@dataclass(frozen=True)
class PageReport:
    """What happened to one page."""

    number: int
    origin: str
    dpi: float
    dpi_from: str
    rotation: int
    skew: float
    blank: bool
    confidence: float
    words: int
    kept_as_is: bool = False  # a page with text copied unchanged (ocr.existing_text = "skip")
    grey: bool = False  # the scan has no colour (Decree 30/2020 asks for colour); see ScanResult.grey_pages

    @property
    def meets_decree30(self) -> bool:
        return self.dpi >= MIN_DPI


@dataclass(frozen=True)
class ScanResult:
    """The PDF/A written and a report per page.

    ``signed_originals`` lists inputs that carried a digital signature and
    were digitized under ``ocr.signed_input = "keep-original"``: the caller
    keeps them untouched beside the digitized copy.
    """

    pdf: Path
    pages: tuple[PageReport, ...]
    text: str
    signed_originals: tuple[Path, ...] = field(default=())
    dropped_blank_pages: tuple[int, ...] = field(default=())

    @property
    def page_count(self) -> int:
        return len(self.pages)

    @property
    def confidence(self) -> float:
        """Mean word confidence over pages with words."""
        scored = [p for p in self.pages if p.words]
        return round(sum(p.confidence * p.words for p in scored) / sum(p.words for p in scored), 1) if scored else 0.0

    @property
    def grey_pages(self) -> list[int]:
        """Pages scanned without colour (blank pages aside): Decree 30/2020 asks for a colour copy."""
        return [p.number for p in self.pages if p.grey and not p.blank]

    def review_pages(self, min_confidence: float) -> list[int]:
        """Pages whose confidence is below ``min_confidence`` and that are not blank."""
        return [p.number for p in self.pages
                if not p.blank and not p.kept_as_is and p.confidence < min_confidence]


@dataclass(frozen=True)
class _PageDone:
    layer: pdfa.PageLayer
    report: PageReport
    text: str


def scan_to_pdfa(
    source: Path | list[Path],
    meta: DocumentMeta,
    work_dir: Path,
    settings: OcrSettings,
    *,
    default_dpi: int,
    max_pages: int = pages.MAX_PAGES,
    pool: PagePool | None = None,
) -> ScanResult:
    """Clean, OCR and assemble the pages of ``source`` (one input or several, in order)
    into ``work_dir/output.pdfa.pdf``; the pages run in ``pool`` when one is given (a run's).

    ``default_dpi`` and ``max_pages`` come from the intake settings: an input of
    more than ``max_pages`` pages is refused before any page is rendered.
    """
    require_tools(settings)
    plan = pages.plan_pages(
        source, default_dpi=default_dpi, existing_text=settings.existing_text, signed_input=settings.signed_input,
        max_pages=max_pages,
    )
    work_dir.mkdir(parents=True, exist_ok=True)
    done = run_pages(plan.pages, work_dir, settings, pool)
    require_colour(done, settings.require_colour)
    dropped = tuple(d.report.number for d in done if d.report.blank and not settings.keep_blank_pages)
    kept = [d for d in done if d.report.number not in dropped] or done[:1]
    out = work_dir / "output.pdfa.pdf"
    producer = f"digitize (Tesseract {tools.probe('tesseract').version})"
    pdfa.assemble([d.layer for d in kept], out, meta, producer=producer)
    return ScanResult(
        out, tuple(d.report for d in kept), "\n\f".join(d.text for d in kept), plan.signed_originals, dropped
    )


def require_tools(settings: OcrSettings) -> None:
    """Tesseract with the languages of ``settings`` and its orientation data, and poppler: a missing one
    raises :class:`MissingToolError` (exit 5) with the way to install it."""
    tools.require("tesseract")
    tools.require("pdftoppm")
    tools.require_languages(settings.languages, settings.tessdata_dir)
    tools.require_languages("osd", settings.tessdata_dir)


def scan_each(
    sources: Sequence[Path],
    metas: Sequence[DocumentMeta],
    work_dir: Path,
    settings: OcrSettings,
    finish: Callable[[int, ScanResult], T],
    on_done: Callable[[int, T | DigitizeError], None],
    *,
    default_dpi: int,
    max_pages: int = pages.MAX_PAGES,
    in_flight: int = 0,
) -> None:
    """Each of ``sources`` (a file or a folder) its own document, all on one :class:`PagePool`.

    Up to ``in_flight`` documents (0: 4 x the workers) are read at once, in threads
    of this process, their pages sharing the workers: pages of the next documents
    fill the pool while earlier ones are assembled, so both cores stay busy to the
    last page; the largest inputs start first, leaving small documents for the end.
    ``finish(n, result)`` runs in the document's thread once document ``n`` is
    assembled (e.g. to copy it out of ``work_dir/<n>``, removed after it);
    ``on_done(n, value or error)`` runs in the calling thread as each document ends,
    with :class:`DigitizeError` that stopped it (the other documents go on). With one
    worker the documents are read one after the other in the calling thread.
    Anything else (a signal, an unexpected error) stops every document and is raised.
    """
    require_tools(settings)
    workers = worker_count(settings, 1 << 16)
    order = sorted(range(len(sources)), key=lambda n: -input_bytes(sources[n]))

    def one(n: int, pool: PagePool | None) -> tuple[int, T | DigitizeError]:
        folder = work_dir / f"{n:05d}"
        try:
            result = scan_to_pdfa(sources[n], metas[n], folder, settings, default_dpi=default_dpi,
                                  max_pages=max_pages, pool=pool)
            return n, finish(n, result)
        except DigitizeError as e:
            return n, e
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    if workers == 1:
        for n in order:
            on_done(*one(n, None))
        return
    with PagePool(workers) as pool, ThreadPoolExecutor(in_flight or 4 * workers,
                                                       thread_name_prefix="document") as threads:
        futures = [threads.submit(one, n, pool) for n in order]
        try:
            for future in as_completed(futures):
                on_done(*future.result())
        except BaseException:
            # Stopping: take no further document; documents waiting on the pool stop with StoppedError.
            for future in futures:
                future.cancel()
            pool.terminate()
            raise


def input_bytes(path: Path) -> int:
    """Bytes of an input (a file, or the files of a folder); 0 when it is gone or unreadable."""
    try:
        if path.is_dir():
            return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file())
        return path.lstat().st_size
    except OSError:
        return 0


def require_colour(done: list[_PageDone], policy: str) -> None:
    """Refuse grey pages (:class:`BadInputError`, exit 4) when ``policy`` (``ocr.require_colour``) is "refuse";
    with "warn" they are only reported (:attr:`ScanResult.grey_pages`)."""
    if policy not in ("warn", "refuse"):
        raise ConfigError(_("ocr.require_colour must be 'warn' or 'refuse', not {value}", value=repr(policy)))
    grey = [d.report for d in done if d.report.grey and not d.report.blank]
    if policy == "refuse" and grey:
        pages = ", ".join(_page_named(p) for p in grey)
        raise BadInputError(
            _("{pages}: scanned in grey, without colour; a digital copy must be in colour (Decree 30/2020)",
              pages=pages),
            hint=_("scan these pages again with the scanner set to colour (not grey or automatic) and drop them again"),
        )


def _page_named(report: PageReport) -> str:
    """A page as the clerk finds it: its origin when that names the page (``scan.pdf page 2``), else its
    number and the file it is (``page 3 (0003.jpg)``, a page of a folder)."""
    if not report.origin.lower().endswith(tuple(pages.INPUT_SUFFIXES)):
        return report.origin
    return _("page {number} ({origin})", number=report.number, origin=report.origin)


def worker_count(settings: OcrSettings, pages_to_do: int) -> int:
    """Processes to use: ``settings.workers`` (0: one per core), never more than the pages."""
    wanted = settings.workers or os.cpu_count() or 1
    return max(1, min(wanted, pages_to_do))


#: How long past its own page limit a worker may be silent before its pool is torn down: the page limit
#: is kept inside the worker (an alarm), so this is only for a worker stuck outside Python.
PAGE_LIMIT_GRACE_SECONDS = 60.0


def run_pages(
    todo: tuple[pages.SourcePage, ...], work_dir: Path, settings: OcrSettings, pool: PagePool | None = None
) -> list[_PageDone]:
    """Process every page, in parallel when there are several, and return them in page order.

    With ``pool`` (a run's :class:`PagePool`) the pages join the pages of other
    documents in that pool; without it a pool is made for this call.
    """
    if pool is not None:
        return pool.run(todo, work_dir, settings)
    workers = worker_count(settings, len(todo))
    if workers == 1:
        return [process_page(page, work_dir, settings) for page in todo]
    with PagePool(workers) as own:
        return own.run(todo, work_dir, settings)


class PagePool:
    """Worker processes that render, clean and read pages, for one document or for a whole run.

    Several documents (in threads of one process) can run their pages in one
    pool at once: pages of the next documents fill the workers while earlier
    ones are assembled, signed and archived, and a slow page of one document
    does not leave the other workers idle. Each worker leads its own process
    group and keeps each page to ``page_timeout_seconds`` itself (a page past
    it stops with :class:`ToolTimeoutError`, its Tesseract killed), so one
    slow or hung page never stops the pages of other documents. Use as a
    context manager; leaving it on an error kills every worker and their
    children.
    """

    def __init__(self, workers: int) -> None:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["digitize.lifetime", "digitize.engine"])
        self._pool = context.Pool(workers, initializer=lifetime.page_worker_start, maxtasksperchild=20)
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._progress = time.monotonic()  # when a page last came back from any worker
        self._note_workers()

    def __enter__(self) -> PagePool:
        return self

    def __exit__(self, kind: object, error: object, traceback: object) -> None:
        if error is None:
            self.close()
        else:
            self.terminate()

    def run(self, todo: tuple[pages.SourcePage, ...], work_dir: Path, settings: OcrSettings) -> list[_PageDone]:
        """Every page of ``todo`` through the pool, in page order; the first page error is raised.

        Pages may wait behind other documents' pages: only a pool that returns no page at all for
        longer than a page's limit (plus a grace) is taken as stuck and torn down. Once the pool is
        stopped (:meth:`terminate`), a waiting document stops with :class:`StoppedError` (transient).
        """
        if self._stopped.is_set():
            raise StoppedError(_("the run was stopped before this document's pages were read"))
        language = i18n.language()  # the worker never read the settings: it says its errors in the run's language
        pending = [self._pool.apply_async(_process_page_safely, (page, work_dir, settings, language)) for page in todo]
        return [_unwrap(self._wait(page, job, settings)) for page, job in zip(todo, pending, strict=True)]

    def _wait(self, page: pages.SourcePage, job: multiprocessing.pool.AsyncResult, settings: OcrSettings) -> object:
        silence = settings.page_timeout_seconds + PAGE_LIMIT_GRACE_SECONDS
        while True:
            if self._stopped.is_set():
                raise StoppedError(_("{what}: the run was stopped before this page was read", what=page.origin))
            self._note_workers()
            try:
                outcome = job.get(timeout=1.0)
            except multiprocessing.TimeoutError as e:
                if time.monotonic() - self._progress > silence:
                    self.terminate()  # a worker stuck where its own alarm cannot reach it
                    raise _page_timeout(page, settings) from e
                continue
            self._progress = time.monotonic()
            return outcome

    def close(self) -> None:
        """Let the workers finish and stop."""
        self._pool.close()
        self._pool.join()

    def terminate(self) -> None:
        """Stop every worker now, and whatever they started (a hung Tesseract); documents waiting on
        the pool stop with :class:`StoppedError`."""
        self._stopped.set()
        self._note_workers()
        self._pool.terminate()
        self._pool.join()
        _kill_groups(self._groups)

    def _note_workers(self) -> None:
        with self._lock:
            self._groups |= {worker.pid for worker in self._pool._pool}  # multiprocessing keeps its workers there


class _PageTimeout(Exception):
    """Raised in a worker by its alarm when a page runs past its limit."""


def _on_alarm(signum: int, frame: object) -> None:
    raise _PageTimeout


def _kill_groups(groups: set[int]) -> None:
    """Kill what stopped workers left running (a hung Tesseract): each worker led its own
    process group (``os.setpgrp`` at start), which outlives it while a child is alive."""
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _page_timeout(page: pages.SourcePage, settings: OcrSettings) -> ToolTimeoutError:
    return ToolTimeoutError(_("{what} did not finish within {seconds} s", what=page.origin,
                              seconds=format(settings.page_timeout_seconds, "g")))


def _process_page_safely(
    page: pages.SourcePage, work_dir: Path, settings: OcrSettings, language: str = "en"
) -> object:
    """Worker entry: a page, or the product error it raised as plain values (errors with
    keyword arguments do not survive pickling whole).

    The worker shows its messages in ``language``, the language of the run that sent the page
    (a worker process never reads the settings, and a pool outlives a change of language).

    The page is kept to ``settings.page_timeout_seconds`` by an alarm: past it
    the page stops (``subprocess.run`` kills the program it was waiting for)
    with :class:`ToolTimeoutError`, transient.
    """
    if i18n.language() != language:
        i18n.set_language(language)
    previous = signal.signal(signal.SIGALRM, _on_alarm)
    signal.setitimer(signal.ITIMER_REAL, settings.page_timeout_seconds)
    try:
        return process_page(page, work_dir, settings, _worker_reader())
    except _PageTimeout:
        error = _page_timeout(page, settings)
        return ("error", type(error), error.message, error.hint, "")
    except DigitizeError as e:
        return ("error", type(e), e.message, e.hint, getattr(e, "stderr", ""))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: This page worker's Tesseract kept loaded (made at its first page), or None where the ``tesseract``
#: on PATH has no libtesseract to load (:func:`tesseract_api.reader_on_path`).
_READER: list[tesseract_api.Reader | None] = []


def _worker_reader() -> tesseract_api.Reader | None:
    """The page worker's :class:`tesseract_api.Reader`: one per worker process, for all its pages. Found
    once: the program on PATH does not change under a running pool."""
    if not _READER:
        _READER.append(tesseract_api.reader_on_path())
    return _READER[0]


def _unwrap(outcome: object) -> _PageDone:
    if isinstance(outcome, tuple) and outcome and outcome[0] == "error":
        _, kind, message, hint, stderr = outcome
        if issubclass(kind, ToolError):
            raise kind(message, hint=hint, stderr=stderr)
        raise kind(message, hint=hint)
    assert isinstance(outcome, _PageDone)
    return outcome


def process_page(page: pages.SourcePage, work_dir: Path, settings: OcrSettings,
                 reader: tesseract_api.Reader | None = None) -> _PageDone:
    """Render, orient, clean and OCR one page; returns its layer files, its report and its text.

    A page the blank detector is sure of (:func:`cleanup.blank_page`) is kept, its
    dark borders cut, with no text layer: neither Tesseract nor OSD runs on it.
    Any other page is read once, turned the way :func:`cleanup.guess_orientation` finds
    upright (0.06 s). Tesseract OSD (~0.7 s of CPU a page) runs only when it can
    matter: when the guess is unsure and the text looks vertical, or when a reading
    gives a low confidence (upside down reads as garbage); then the better reading
    is kept. A turned page that reads badly may be the guess's mistake (charts fool
    it): it is then also read the way it would be without the guess, and the guess's
    reading is kept only if clearly better. Each reading has its own files.

    ``reader`` is the page worker's Tesseract kept loaded (:class:`tesseract_api.Reader`); without it
    each reading runs the ``tesseract`` program.
    """
    if page.action == "keep":
        return _keep_page(page)
    source = pages.render_page(page, work_dir, timeout=settings.timeout_seconds)
    image = cv2.imread(str(source), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    if image is None:
        if source != page.file and files.is_short_of_space(source.parent):  # a rendering cut short by a full disk
            raise files.storage_full(source)
        raise BadInputError(_("{what}: the page image could not be decoded", what=page.origin))
    # A scanned JPEG is kept while the page is read: a page neither turned, deskewed nor cropped shows it as it is.
    scanned_jpeg = source if source.suffix.lower() in (".jpg", ".jpeg") else None
    if source != page.file and scanned_jpeg is None:
        source.unlink(missing_ok=True)  # the display and OCR images replace it
    try:
        return _orient_and_read(cleanup.maybe_gray(image), scanned_jpeg, page, work_dir, settings, reader)
    finally:
        if source != page.file:
            source.unlink(missing_ok=True)


@dataclass(frozen=True)
class _Scan:
    """What every reading of a page shares: the scan as decoded, its grey for OCR, its sketch, whether it has
    dark borders, whether it is grey, and the display image written once (the scan itself, drawn turned)."""

    image: object  # np.ndarray, BGR or grey
    gray: object
    sketch: cleanup.Sketch
    borders: bool
    grey: bool
    display: Path
    display_gray: bool


def _orient_and_read(
    image, scanned_jpeg: Path | None, page: pages.SourcePage, work_dir: Path, settings: OcrSettings,
    reader: tesseract_api.Reader | None = None,
) -> _PageDone:
    """The orientation decision of :func:`process_page` and the readings it needs."""
    stem = work_dir / f"page-{page.number:03d}"
    gray = cleanup.ocr_gray(image)
    border = cleanup.dark_border_mask(gray)  # found once: the blank test and every reading use it
    display, display_gray = _write_display(image, stem, settings, scanned_jpeg)
    blank = cleanup.blank_page(image, page.dpi, border=border)
    if blank is not None:
        return _blank_page(blank, page, display, display_gray)
    sketch = cleanup.Sketch(gray)  # shared by the orientation guess and the deskew
    scan = _Scan(image, gray, sketch, border is not None, cleanup.is_grey(image), display, display_gray)
    readings: dict[int, _PageDone] = {}

    def read(rotation: int) -> _PageDone:
        if rotation not in readings:
            readings[rotation] = _clean_and_read(scan, rotation, page, stem.with_name(f"{stem.name}-r{rotation}"),
                                                 settings, reader)
        return readings[rotation]

    def osd(rotation: int) -> int:
        """The rotation OSD finds for the page as turned by ``rotation``."""
        return (rotation + _osd(cleanup.rotate_quarter(gray, rotation), page, stem, settings)) % 360

    def recheck(done: _PageDone) -> _PageDone:
        if done.report.blank or done.report.confidence >= ORIENTATION_RECHECK_CONFIDENCE:
            return done
        again = read(osd(done.report.rotation))
        return again if again.report.confidence > done.report.confidence else done

    def unguessed(sideways: bool) -> _PageDone:
        return read(osd(0)) if sideways else recheck(read(0))

    guess = cleanup.guess_orientation(sketch)
    if guess.rotation is None:
        return unguessed(guess.sideways)
    done = read(guess.rotation)
    if done.report.blank or done.report.confidence >= ORIENTATION_RECHECK_CONFIDENCE:
        return done
    other = unguessed(guess.sideways)
    return done if done.report.confidence > other.report.confidence + GUESS_MARGIN else other


def _osd(gray, page: pages.SourcePage, stem: Path, settings: OcrSettings) -> int:
    return ocr.detect_rotation(gray, page.dpi, stem.with_suffix(".osd.png"), timeout=settings.timeout_seconds,
                               tessdata_dir=settings.tessdata_dir)


def _clean_and_read(
    scan: _Scan, rotation: int, page: pages.SourcePage, stem: Path, settings: OcrSettings,
    reader: tesseract_api.Reader | None = None,
) -> _PageDone:
    """One reading of a page not blank (``scan``: what its readings share), turned by ``rotation``: only the grey
    OCR image is turned, deskewed and cut; the page shows the scan through the same geometry
    (:meth:`cleanup.Geometry.pdf_matrix`)."""
    clean = cleanup.clean_for_ocr(scan.gray, rotation, sketch=scan.sketch, borders=scan.borders)
    ocr_image = stem.with_suffix(".ocr.pgm")  # uncompressed: PNG's zlib costs ~0.1 s a page
    files.write_bytes(ocr_image, _encode(".pgm", clean.ocr, ocr_image))
    result = ocr.ocr_page(
        ocr_image, page.number, page.dpi, stem.with_suffix(".text"),
        languages=settings.languages, timeout=settings.timeout_seconds, tessdata_dir=settings.tessdata_dir,
        layout_order=settings.reading_order == "layout", tone_below=settings.tone_correction_below,
        seals=_seal_boxes(scan.image, clean.geometry, page.dpi) if settings.seal_words_below > 0 else (),
        seal_below=settings.seal_words_below, reader=reader,
    )
    ocr_image.unlink()  # kept only when OCR fails, to explain the failure
    report = PageReport(
        page.number, page.origin, page.dpi, page.dpi_from, clean.geometry.rotation, clean.skew,
        False, result.confidence, result.words, grey=scan.grey,
    )
    return _PageDone(_layer(scan.display, scan.display_gray, clean.geometry, page.dpi, result.text_pdf), report,
                     result.text)


def _seal_boxes(image, geometry: cleanup.Geometry, dpi: float) -> tuple[tuple[int, int, int, int], ...]:
    """The red seals of the page (:func:`layout.seal_boxes`), in the OCR image's pixels, without turning the
    colour scan: red is told on a copy of the scan shrunk to the seals' working resolution (turning that small
    copy would blur thin red strokes under the threshold), then only the red is turned into the page."""
    if image.ndim != 3 or dpi <= 0:
        return ()
    scale = min(1.0, layout.SEAL_DPI / dpi)
    small = cleanup.shrink(image, scale)
    b, g, r = (small[:, :, k].astype(np.int16) for k in range(3))
    red = np.full_like(small, 255)
    red[(r - g > layout.RED_OVER_GREEN) & (r - b > layout.RED_OVER_BLUE)] = (0, 0, 255)
    boxes = layout.seal_boxes(geometry.apply(red, scale), layout.SEAL_DPI if scale < 1 else dpi)
    return tuple(tuple(round(v / scale) for v in box) for box in boxes)


def _layer(display: Path, gray: bool, geometry: cleanup.Geometry, dpi: float, text_pdf: Path | None) -> pdfa.PageLayer:
    """The page: ``display`` (the scan's JPEG) drawn through ``geometry`` on a page of its size, and the text."""
    width, height = geometry.size
    if geometry.untouched:
        return pdfa.PageLayer(display, text_pdf, width, height, dpi, gray)
    return pdfa.PageLayer(display, text_pdf, width, height, dpi, gray, placement=geometry.pdf_matrix(dpi),
                          image_px=(geometry.width, geometry.height))


def _blank_page(clean: cleanup.CleanPage, page: pages.SourcePage, display: Path, gray: bool) -> _PageDone:
    """A page the blank detector is sure of: its image (dark borders cut off), no text layer, reported blank
    (no OCR)."""
    assert clean.geometry is not None
    layer = _layer(display, gray, clean.geometry, page.dpi, None)
    report = PageReport(page.number, page.origin, page.dpi, page.dpi_from, 0, 0.0, True, 0.0, 0)
    return _PageDone(layer, report, "")


def _write_display(image, stem: Path, settings: OcrSettings, scanned_jpeg: Path | None) -> tuple[Path, bool]:
    """Write the visible page image (``<stem>.display.jpg``): the scanner's own JPEG when there is one (no
    second compression), else the scan encoded, as it lay (the PDF turns it); returns it and whether it is grey."""
    display = stem.with_suffix(".display.jpg")
    if scanned_jpeg is not None:
        with files.storage_guard(display):
            shutil.copyfile(scanned_jpeg, display)
        return display, pages.jpeg_is_gray(display)
    return display, pdfa.write_display_jpeg(image, display, settings.jpeg_quality)


def _encode(extension: str, image, path: Path) -> bytes:
    """``image`` encoded in memory (cv2.imwrite's result says nothing of a full disk; a Python write does)."""
    ok, data = cv2.imencode(extension, image)
    if not ok:
        raise DigitizeError(_("could not encode the page image {name}", name=path.name))
    return data.tobytes()


def _keep_page(page: pages.SourcePage) -> _PageDone:
    """A PDF page that already has text, copied unchanged (``ocr.existing_text = "skip"``)."""
    layer = pdfa.PageLayer(None, None, 0, 0, page.dpi, False, source_pdf=page.file, source_index=page.index)
    report = PageReport(page.number, page.origin, page.dpi, page.dpi_from, 0, 0.0, False, 0.0, 0, kept_as_is=True)
    return _PageDone(layer, report, "")


def keep_signed_originals(result: ScanResult, output: Path) -> list[Path]:
    """Copy each signed original of ``result`` untouched beside ``output``
    (``<output stem>.signed-original[-n].pdf``) and return the copies."""
    copies = []
    names = signed_original_names(output.stem, len(result.signed_originals))
    for original, name in zip(result.signed_originals, names, strict=True):
        target = output.with_name(name)
        with files.storage_guard(target), files.written_whole(target) as partial:
            shutil.copyfile(original, partial)
        copies.append(target)
    return copies
