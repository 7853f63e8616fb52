"""The OCR call through pytesseract against the direct call it replaced, paired on the same pages.

- ``direct``: what ``digitize.ocr.ocr_page`` ran before issue 16, ``tesseract [--tessdata-dir D] PAGE OUT -l vie
  --dpi N -c textonly_pdf=1 pdf tsv`` through :func:`digitize.tools.run` (``OMP_THREAD_LIMIT=1``);
- ``pytesseract``: :func:`digitize.ocr.run_tesseract`, the same work through ``pytesseract.run_tesseract``.

The pages are made fresh: A4 at 300 dpi, the Vietnamese lines of the engine tests in Liberation Serif,
written as the 8-bit PGM the scan engine hands Tesseract. Each round runs every page once per call, the two calls in turn (direct first in
even rounds, pytesseract first in odd ones); the ratio pytesseract / direct is taken page by page and round by
round, and its median is the figure. Both wall time and the CPU time of the Tesseract processes are timed.
The outputs are compared too: the same words and confidences in the TSV, a text-only PDF page each time.

    .venv/bin/python bench/tesseract_call.py [--pages 4] [--rounds 5] [--lang vie]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from digitize import ocr, tools  # noqa: E402 - after the path is set
from tests.engine_fixtures import LINES, font_file  # noqa: E402

DPI = 300
TIMEOUT = 300.0


def make_page(path: Path, number: int) -> Path:
    """An A4 page of the lines, cycled by ``number`` so that no two pages are alike."""
    width, height = round(8.27 * DPI), round(11.69 * DPI)
    image = Image.new("L", (width, height), 250)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(font_file()), round(12 * DPI / 72))
    y = round(1.0 * DPI)
    for repeat in range(3):
        for index in range(len(LINES)):
            draw.text((round(0.8 * DPI), y), LINES[(index + number + repeat) % len(LINES)], font=font, fill=20)
            y += round(12 * 1.8 * DPI / 72)
    image.save(path)  # .pgm: uncompressed, as the engine writes it
    return path


def direct(page: Path, out_base: Path, lang: str) -> None:
    """The call before issue 16: the argument list by hand, through the tool wrapper."""
    tools.run(["tesseract", page.as_posix(), str(out_base), "-l", lang, "--dpi", str(DPI),
               "-c", "textonly_pdf=1", "pdf", "tsv"],
              timeout=TIMEOUT, env=tools.SINGLE_THREAD_ENV, output_dir=out_base.parent)


def through_pytesseract(page: Path, out_base: Path, lang: str) -> None:
    ocr.run_tesseract(page, out_base, languages=lang, dpi=DPI, timeout=TIMEOUT)


CALLS = {"direct": direct, "pytesseract": through_pytesseract}


def timed(call, page: Path, out_base: Path, lang: str) -> tuple[float, float]:
    """Wall and child-CPU seconds of one call."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    call(page, out_base, lang)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def words(tsv: Path) -> list[tuple[str, str]]:
    rows = [line.split("\t") for line in tsv.read_text(encoding="utf-8").splitlines()[1:]]
    return [(row[11], row[10]) for row in rows if len(row) == 12 and row[11].strip()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--lang", default="vie")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tesseract-call-") as tmp:
        work = Path(tmp)
        pages = [make_page(work / f"page {n}.pgm", n) for n in range(args.pages)]
        for name, call in CALLS.items():  # warm-up: the model into the page cache, and the outputs compared
            for page in pages:
                call(page, work / f"{page.stem}-{name}", args.lang)
        for page in pages:
            a, b = (work / f"{page.stem}-{name}" for name in CALLS)
            assert words(Path(f"{a}.tsv")) == words(Path(f"{b}.tsv")), f"{page.name}: the TSVs differ"
            assert Path(f"{a}.pdf").stat().st_size > 0 and Path(f"{b}.pdf").stat().st_size > 0
        print(f"outputs: the same words and confidences on {len(pages)} pages; a text-only PDF page each")
        wall_ratios, cpu_ratios, totals = [], [], {name: [0.0, 0.0] for name in CALLS}
        for round_ in range(args.rounds):
            order = list(CALLS) if round_ % 2 == 0 else list(reversed(CALLS))
            for page in pages:
                got = {name: timed(CALLS[name], page, work / f"{page.stem}-{name}", args.lang) for name in order}
                wall_ratios.append(got["pytesseract"][0] / got["direct"][0])
                cpu_ratios.append(got["pytesseract"][1] / got["direct"][1])
                for name, (wall, cpu) in got.items():
                    totals[name][0] += wall
                    totals[name][1] += cpu
        pairs = len(wall_ratios)
        for name, (wall, cpu) in totals.items():
            print(f"{name:12} {wall / pairs:.3f} s wall, {cpu / pairs:.3f} s CPU per page (mean of {pairs})")
        print(f"pytesseract / direct, median of {pairs} pairs: wall {statistics.median(wall_ratios):.3f} "
              f"(min {min(wall_ratios):.3f}, max {max(wall_ratios):.3f}), "
              f"CPU {statistics.median(cpu_ratios):.3f} (min {min(cpu_ratios):.3f}, max {max(cpu_ratios):.3f})")


if __name__ == "__main__":
    main()
