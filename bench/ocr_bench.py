"""Scan-engine benchmark: `digitize ocr` against OCRmyPDF and the raw-Tesseract floor.

Inputs (made fresh under the work folder on every run):

- ``samples``: each sample document of ``samples/inbox`` (8 pages, 5 files,
  200/300 dpi, skewed, two of them turned), as they are;
- ``dossier-N``: one image-only PDF of N pages (the 8 sample pages, repeated),
  each page a JPEG q75 at its native DPI, as a scanner writes it.

Contenders, all with ``OMP_THREAD_LIMIT=1``, two processes each:

- ``digitize``: ``digitize ocr IN -o OUT --jobs 2``;
- ``ocrmypdf-same``: ``ocrmypdf -l vie --output-type pdfa --deskew --rotate-pages -j 2``;
- ``ocrmypdf-plain``: ``ocrmypdf -l vie -j 2``;
- ``tesseract-floor``: ``tesseract page.png out -l vie --dpi D pdf`` on the
  pages already rasterized at their native DPI, two at a time (rasterizing
  not counted): the floor any tool built on Tesseract pays.

Measured: wall time, pages per minute, peak RSS of the whole process tree
(sampled every 50 ms, summed over processes), output size against input
size, and CER of the text copied out of the output (``pdftotext``) against
``samples/truth`` (NFC, whitespace collapsed; Levenshtein / truth length).

    .venv/bin/python bench/ocr_bench.py [--pages 24] [--only digitize,ocrmypdf-same] [--lang vie]
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
import tempfile
import time
import unicodedata
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import img2pdf
import psutil
from PIL import Image
from rapidfuzz.distance import Levenshtein

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
VENV_BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}
TIMEOUT = 1800


@dataclass(frozen=True)
class Case:
    name: str
    inputs: list[Path]  # one file per document
    pages: list[tuple[Path, int, int, str]]  # (rendered page png, dpi, rotation, truth text), in output order


@dataclass(frozen=True)
class Outcome:
    case: str
    tool: str
    pages: int
    seconds: float
    cpu_seconds: float
    pages_per_minute: float
    peak_rss_mb: float
    input_mb: float
    output_mb: float
    size_ratio: float
    cer: float


def normalize(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).split())


def cer(found: str, truth: str) -> float:
    truth = normalize(truth)
    return Levenshtein.distance(normalize(found), truth) / max(1, len(truth))


def sample_pages(work: Path) -> list[tuple[str, Path, int, int, int, str]]:
    """Every sample page rendered at its native DPI: (document, source file, page, dpi, rotation, png, truth)."""
    rows = list(csv.DictReader((SAMPLES / "truth" / "pages.csv").open(encoding="utf-8")))
    out = []
    for row in rows:
        source = SAMPLES / "inbox" / row["file"]
        index, dpi = int(row["page"]), int(row["dpi"])
        png = work / f"{row['document']}-{index}.png"
        if source.suffix == ".pdf":
            subprocess.run(["pdftoppm", "-r", str(dpi), "-f", str(index), "-l", str(index), "-png", "-singlefile",
                            str(source), str(png.with_suffix(""))], check=True, timeout=TIMEOUT)
        else:
            with Image.open(source) as image:
                image.seek(index - 1 if source.suffix == ".tif" else 0)
                image.convert("RGB" if image.mode != "L" else "L").save(png, dpi=(dpi, dpi))
        truth = (SAMPLES / "truth" / row["document"] / f"page-{index:03d}.txt").read_text(encoding="utf-8")
        out.append((row["document"], source, index, dpi, int(row["rotation"]), png, truth))
    return out


def make_cases(work: Path, dossier_pages: int) -> list[Case]:
    rendered = sample_pages(work)
    documents: dict[str, list] = {}
    for doc, source, index, dpi, rot, png, truth in rendered:
        documents.setdefault(doc, []).append((source, index, dpi, rot, png, truth))
    inputs = []
    for doc, pages in documents.items():
        source = pages[0][0]
        if source.parent.name == doc:  # a folder of page images: OCRmyPDF takes one file, so join them
            target = work / f"{doc}.pdf"
            target.write_bytes(img2pdf.convert([str(p[0]) for p in pages]))
            inputs.append(target)
        elif source.suffix == ".tif":
            target = work / f"{doc}.pdf"  # OCRmyPDF reads one-frame images only: give it the TIFF as a PDF
            target.write_bytes(img2pdf.convert(str(source)))
            inputs.append(target)
        else:
            inputs.append(source)
    samples = Case("samples", inputs, [(p[4], p[2], p[3], p[5]) for pages in documents.values() for p in pages])
    jpegs, pages = [], []
    for n in range(dossier_pages):
        _doc, _source, _index, dpi, rot, png, truth = rendered[n % len(rendered)]
        jpg = work / f"dossier-{n + 1:03d}.jpg"
        with Image.open(png) as image:
            image.save(jpg, quality=75, dpi=(dpi, dpi))
        jpegs.append(str(jpg))
        pages.append((png, dpi, rot, truth))
    dossier = work / f"dossier-{dossier_pages}.pdf"
    dossier.write_bytes(img2pdf.convert(jpegs))
    return [samples, Case(f"dossier-{dossier_pages}", [dossier], pages)]


def measure(command: Callable[[], None]) -> tuple[float, float, float]:
    """Run ``command`` (which starts subprocesses); return (wall seconds, CPU seconds of all
    descendants, peak RSS in MB summed over the descendants alive at once).

    CPU seconds hardly depend on what else the shared machine runs; wall time does. They
    are the sum of the last sampled own CPU time of every descendant seen (a lower bound:
    up to one sampling period is lost per process)."""
    me = psutil.Process()
    peak = 0
    seen: dict[int, float] = {}
    with ThreadPoolExecutor(1) as pool:
        start = time.perf_counter()
        job = pool.submit(command)
        while not job.done():
            total = 0
            for child in me.children(recursive=True):
                try:
                    total += child.memory_info().rss
                    times = child.cpu_times()
                    seen[child.pid] = times.user + times.system
                except psutil.Error:
                    pass
            peak = max(peak, total)
            time.sleep(0.05)
        job.result()
        seconds = time.perf_counter() - start
    cpu = sum(seen.values())
    return seconds, cpu, peak / 1e6


def text_of_pages(pdf: Path, count: int) -> list[str]:
    texts = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                           check=True, timeout=TIMEOUT).stdout.split("\f")
    return (texts + [""] * count)[:count]


def run_tool(tool: str, case: Case, out_dir: Path, lang: str) -> Outcome:
    out_dir.mkdir(parents=True, exist_ok=True)
    outputs = [out_dir / f"{i}.pdf" for i in range(len(case.inputs))]

    def command() -> None:
        for source, out in zip(case.inputs, outputs, strict=True):
            if tool == "digitize":
                args = [str(VENV_BIN / "digitize"), "ocr", str(source), "-o", str(out), "--jobs", "2", "--lang", lang]
            elif tool == "ocrmypdf-same":
                args = [str(VENV_BIN / "ocrmypdf"), "-q", "-l", lang, "--output-type", "pdfa", "--deskew",
                        "--rotate-pages", "-j", "2", str(source), str(out)]
            elif tool == "ocrmypdf-plain":
                args = [str(VENV_BIN / "ocrmypdf"), "-q", "-l", lang, "-j", "2", str(source), str(out)]
            else:
                raise ValueError(tool)
            subprocess.run(args, check=True, env=ENV, capture_output=True, timeout=TIMEOUT)

    def floor() -> None:
        def one(job: tuple[int, tuple[Path, int, int, str]]) -> None:
            n, (png, dpi, _rot, _truth) = job
            subprocess.run(["tesseract", str(png), str(out_dir / f"p{n:03d}"), "-l", lang, "--dpi", str(dpi), "pdf"],
                           check=True, env=ENV, capture_output=True, timeout=TIMEOUT)

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(one, enumerate(case.pages)))

    if tool == "tesseract-floor":
        seconds, cpu, rss = measure(floor)
        outputs = sorted(out_dir.glob("p*.pdf"))
        texts = [text_of_pages(p, 1)[0] for p in outputs]
        input_bytes = sum(p.stat().st_size for p in case.inputs)
    else:
        seconds, cpu, rss = measure(command)
        texts = []
        for out in outputs:
            with_pages = int(subprocess.run(["pdfinfo", str(out)], capture_output=True, text=True).stdout
                             .split("Pages:")[1].split()[0])
            texts += text_of_pages(out, with_pages)
        input_bytes = sum(p.stat().st_size for p in case.inputs)
    truth = "\n".join(p[3] for p in case.pages)
    found = "\n".join(texts)
    out_bytes = sum(p.stat().st_size for p in outputs)
    n = len(case.pages)
    return Outcome(case.name, tool, n, round(seconds, 1), round(cpu, 1), round(n * 60 / seconds, 1), round(rss),
                   round(input_bytes / 1e6, 2), round(out_bytes / 1e6, 2), round(out_bytes / input_bytes, 2),
                   round(cer(found, truth) * 100, 2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=24, help="pages of the generated dossier")
    parser.add_argument("--only", default="tesseract-floor,digitize,ocrmypdf-plain,ocrmypdf-same")
    parser.add_argument("--lang", default="vie")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="ocr-bench-") as tmp:
        work = Path(tmp)
        cases = make_cases(work, args.pages)
        for case in cases:
            for tool in args.only.split(","):
                outcome = run_tool(tool, case, work / case.name / tool, args.lang)
                results.append(outcome)
                print(json.dumps(asdict(outcome), ensure_ascii=False), flush=True)
    print_table(results)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2), encoding="utf-8")
    return 0


def print_table(results: list[Outcome]) -> None:
    out = io.StringIO()
    out.write("| case | tool | pages | wall s | CPU s | pages/min | x floor wall | x floor CPU | peak RSS MB | out/in size | CER % |\n")
    out.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
    floors = {r.case: r for r in results if r.tool == "tesseract-floor"}
    for r in results:
        floor = floors.get(r.case)
        ratio = f"{r.seconds / floor.seconds:.2f} | {r.cpu_seconds / floor.cpu_seconds:.2f}" if floor else "- | -"
        out.write(f"| {r.case} | {r.tool} | {r.pages} | {r.seconds} | {r.cpu_seconds} | {r.pages_per_minute} | {ratio} | "
                  f"{r.peak_rss_mb:.0f} | {r.size_ratio} | {r.cer} |\n")
    print(out.getvalue())


if __name__ == "__main__":
    raise SystemExit(main())
