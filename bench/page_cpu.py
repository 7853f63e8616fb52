"""Page-worker CPU outside Tesseract (issue 13): ``digitize.engine.process_page`` over every page of the
backlog set in this one process, every function's CPU timed, Tesseract's own CPU counted apart.

Each dossier of the set is planned as ``digitize run`` plans it (``pages.plan_pages`` on the inbox file: image
PDFs, bare JPEGs, multi-page TIFFs), then its pages go one after the other through ``engine.process_page`` with
the default OCR settings. Measured:

- the CPU of this process (all its threads: OpenCV's too) in ``process_page``, per page and in all, and by
  function (cProfile with ``time.process_time`` as its clock: ``--top`` rows by own time and by total time);
- Tesseract's CPU: the page worker's reader, Tesseract kept loaded (``digitize.tesseract_api``; its CPU read from
  ``/proc`` around each page), or with ``--program`` the ``tesseract`` program run per page, and the OSD runs
  (``getrusage(RUSAGE_CHILDREN)``: what this process waited for);
- how many Tesseract readings and OSD runs each page took (a page read twice is Tesseract CPU past the floor);
- the CER of each document's text (the pages' text layers, and with ``--assemble`` ``pdftotext`` of the
  PDF/A made of them, as the benchmark reads the archived copy) against the set's truth; the assembly's own
  CPU is reported apart.

    .venv/bin/python bench/page_cpu.py [--set var/bench/backlog-100-s13] [--limit N] [--assemble] [--program] [--json FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

os.environ.setdefault("OMP_THREAD_LIMIT", "1")

from ocr_bench import normalize  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

from digitize import engine, ocr, pages, pdfa, tesseract_api  # noqa: E402
from digitize.models import DocumentMeta, parse_document_code  # noqa: E402
from digitize.settings import OcrSettings  # noqa: E402


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tesseract_cpu(reader: tesseract_api.Reader | None) -> tuple[int | None, float]:
    """The reader process (kept loaded) and the CPU it has used so far (``/proc``), or (None, 0)."""
    pid = reader.pid if reader is not None else None
    if pid is None:
        return None, 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return pid, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def counting(counts: Counter, name: str, function):
    """``function``, counting its calls in ``counts[name]``."""

    def counted(*args, **kwargs):
        counts[name] += 1
        return function(*args, **kwargs)

    return counted


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", type=Path, default=REPO / "var" / "bench" / "backlog-100-s13")
    parser.add_argument("--limit", type=int, default=0, help="only the first N dossiers")
    parser.add_argument("--documents", default="", help="only these dossiers (document codes, comma-separated)")
    parser.add_argument("--assemble", action="store_true", help="also assemble each PDF/A and take its CER")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--program", action="store_true",
                        help="run the tesseract program per page (a page worker without Tesseract kept loaded)")
    parser.add_argument("--no-png-store", action="store_true",
                        help="keep Tesseract loaded without digitize/native/libpng_store.so")
    args = parser.parse_args()
    backlog = json.loads((args.set / "backlog.json").read_text(encoding="utf-8"))
    documents = backlog["documents"][: args.limit or None]
    if args.documents:
        documents = [d for d in documents if d["document"] in args.documents.split(",")]
    settings = OcrSettings()
    counts: Counter = Counter()
    ocr.run_tesseract = counting(counts, "readings", ocr.run_tesseract)
    ocr.detect_rotation = counting(counts, "osd", ocr.detect_rotation)
    # as a page worker reads (engine._worker_reader)
    reader = None if args.program else tesseract_api.reader_on_path(store=not args.no_png_store)
    if reader is not None:
        reader.read = counting(counts, "readings", reader.read)
    profile = cProfile.Profile(time.process_time)
    work = Path(tempfile.mkdtemp(prefix="page-cpu-"))
    per_page, errors, length, assemble_cpu, layer_errors, per_document = [], 0, 0, 0.0, 0, {}
    own_cpu = tess_cpu = 0.0
    try:
        for document in documents:
            folder = work / document["document"]
            folder.mkdir()
            plan = pages.plan_pages(args.set / document["file"], default_dpi=300)
            done = []
            for page in plan.pages:
                before_counts = dict(counts)
                cpu0, kids0, (pid0, kept0) = time.process_time(), children_cpu(), tesseract_cpu(reader)
                profile.enable()
                result = engine.process_page(page, folder, settings, reader)
                profile.disable()
                pid, kept = tesseract_cpu(reader)
                cpu = time.process_time() - cpu0
                kids = children_cpu() - kids0 + (kept - kept0 if pid == pid0 else kept)
                own_cpu, tess_cpu = own_cpu + cpu, tess_cpu + kids
                done.append(result)
                per_page.append({
                    "document": document["document"], "page": page.number, "cpu": round(cpu, 3),
                    "tesseract_cpu": round(kids, 3), "blank": result.report.blank,
                    "rotation": result.report.rotation, "skew": result.report.skew,
                    "confidence": result.report.confidence,
                    "readings": counts["readings"] - before_counts.get("readings", 0),
                    "osd": counts["osd"] - before_counts.get("osd", 0),
                })
            truth = normalize("\n".join((args.set / "truth" / document["document"] / f"page-{p['number']:03d}.txt")
                                        .read_text(encoding="utf-8") for p in document["pages"]))
            text = normalize("\n".join(d.text for d in done))
            layer_errors += Levenshtein.distance(text, truth)
            if args.assemble:
                cpu0 = time.process_time()
                out = folder / "output.pdfa.pdf"
                code, kind, number = parse_document_code(document["document"])
                meta = DocumentMeta(code, kind, number, "xa", document["office"])
                pdfa.assemble([d.layer for d in done], out, meta, producer="page_cpu")
                assemble_cpu += time.process_time() - cpu0
                shown = subprocess.run(["pdftotext", "-layout", str(out), "-"], capture_output=True, text=True,
                                       check=True).stdout
                wrong = Levenshtein.distance(normalize(shown), truth)
                errors += wrong
                per_document[document["document"]] = round(100 * wrong / max(1, len(truth)), 3)
            length += len(truth)
            shutil.rmtree(folder)
    finally:
        if reader is not None:
            reader.close()
        shutil.rmtree(work, ignore_errors=True)
    report = {
        "tesseract": "program per page" if reader is None else
                     f"kept loaded (tesseract_api.Reader), preload {reader.preload.name if reader.preload else None}",
        "pages": len(per_page),
        "page_cpu_outside_tesseract_s": round(own_cpu, 2),
        "per_page_s": round(own_cpu / max(1, len(per_page)), 3),
        "tesseract_cpu_s": round(tess_cpu, 2),
        "readings": counts["readings"], "osd_runs": counts["osd"],
        "pages_read_twice": sum(1 for p in per_page if p["readings"] > 1),
        "blank_pages": sum(1 for p in per_page if p["blank"]),
        "cer_text_layer_pct": round(100 * layer_errors / max(1, length), 3),
        "cer_pdftotext_pct": round(100 * errors / max(1, length), 3) if args.assemble else None,
        "assemble_cpu_s": round(assemble_cpu, 2) if args.assemble else None,
        "pages_detail": per_page,
        "cer_pdftotext_pct_by_document": per_document,
    }
    stream = io.StringIO()
    stats = pstats.Stats(profile, stream=stream)
    report["cpu_by_function_s"] = {  # cumulative CPU of this package's functions (and OpenCV's), largest first
        f"{Path(file).name}:{name}": round(cumulative, 2)
        for (file, _line, name), (_calls, _total, _own, cumulative, _callers) in sorted(
            stats.stats.items(), key=lambda kv: -kv[1][3])
        if cumulative >= 0.2 and ("digitize" in file or file == "~")}
    stats.sort_stats("tottime").print_stats(args.top)
    stats.sort_stats("cumulative").print_stats(args.top)
    print(stream.getvalue())
    for page in per_page:
        if page["readings"] > 1 or page["osd"]:
            print("read again:", page)
    print(json.dumps({k: v for k, v in report.items() if k not in ("pages_detail", "cer_pdftotext_pct_by_document")},
                     indent=1))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
