"""Backlog benchmark (issue 13): ``digitize run`` and ``digitize ocr`` over a held-out-like backlog, against
raw Tesseract (the floor) and OCRmyPDF, plus the per-document cost of sign + verify + archive + catalog and two
workers draining one inbox.

The set comes from ``bench/make_backlog.py`` (made first if missing). Contenders (``--only``), each timed as
whole commands from outside, all Tesseracts with one thread (``OMP_THREAD_LIMIT=1``), two processes:

- ``floor``: ``tesseract page.jpg out -l vie --dpi 300 pdf`` on every page JPEG of the set, two at a time
  (``xargs -P 2``): what any tool built on Tesseract pays. It does not turn or deskew: a floor for time only;
- ``run``: ``digitize run --level xa`` as a user runs it: the inbox copied (mtimes kept) into a fresh
  folder, a fresh ``PREFECT_HOME`` whose database is prepared before the timing (``prefect server database
  upgrade -y``, as ``bash run.sh setup`` does; ``run-cold``: not prepared, the first start migrates it),
  no ``PREFECT_API_URL`` (so the server start is in the time), every
  stage on the embedded defaults (demo key B-B, local archive, SQLite catalog); ``run:SECTION.KEY=VALUE``
  (e.g. ``run:ocr.documents_in_flight=8``) the same with a setting;
- ``ocr``: ``digitize ocr IN -o OUT --jobs 2``, one command per dossier, one after the other (the command
  takes several inputs only to make one document of them);
- ``ocr-parallel``: the same, two commands at a time with ``--jobs 1`` (``xargs -P 2``);
- ``ocr-one``: ``digitize ocr pages/*.jpg -o all.pdf --jobs 2``: every page of the set as one document;
- ``ocr-set``: ``digitize ocr --output-dir . --jobs 2`` with every dossier of the set as an input: one
  command, each dossier its own document, all their pages on one page pool;
- ``ocrmypdf``: ``ocrmypdf -l vie --output-type pdfa --deskew --rotate-pages -j 2`` per dossier, one after
  the other (a multi-page TIFF is given to it as a PDF made with img2pdf, untimed: it reads one-frame images);
- ``ocrmypdf-parallel``: the same, two at a time with ``-j 1``;
- ``steps``: :func:`pipeline.reserve`, ``sign``, ``verify``, ``archive``, ``record`` called directly
  on the PDF/As the ``ocr`` contender wrote (made if missing), one document at a time, embedded defaults;
  per-document times (p50, p95, max);
- ``two-workers``: one ``prefect server start`` (its start reported, not counted), then the set drained by
  one ``digitize run`` against it, then (a fresh copy) by two at once; and two at once with one page worker
  each (``DIGITIZE_OCR__WORKERS=1``: the same number of Tesseracts as one run).

Measured: wall time, CPU seconds of all descendant processes (a lower bound), pages per minute, peak RSS of
the whole process tree (sampled every 50 ms, summed), the load average around each, and CER of the text
copied out of the output (``pdftotext``) against the set's truth, per document (NFC, whitespace collapsed;
Levenshtein / truth length, summed). For ``run``, the Prefect task runs give each stage's time.

    .venv/bin/python bench/backlog_bench.py [--pages 100] [--seed 13] [--only floor,run,ocr,...] [--json FILE]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from make_backlog import make_backlog  # noqa: E402
from ocr_bench import normalize  # noqa: E402
from rapidfuzz.distance import Levenshtein  # noqa: E402

VENV_BIN = Path(sys.executable).parent
TIMEOUT = 3600
ALL = "floor,run,ocr,ocr-parallel,ocrmypdf,steps,two-workers"
#: DIGITIZE_* settings for the runs of ``digitize run`` (``--set ocr.documents_in_flight=6``); none by default.
RUN_SETTINGS: dict[str, str] = {}


#: Process kinds for the CPU breakdown: the first pattern found in a process's command line names it.
KINDS = (("tesseract", "tesseract"), ("pdftoppm", "pdftoppm"), ("prefect server", "uvicorn"),
         ("prefect server", "prefect server"), ("page workers", "forkserver"), ("page workers", "multiprocessing"),
         ("ocrmypdf", "ocrmypdf"), ("digitize", "digitize"))


def kind_of(cmdline: list[str]) -> str:
    line = " ".join(cmdline)
    return next((kind for kind, pattern in KINDS if pattern in line), Path(cmdline[0]).name if cmdline else "?")


def measure(command: Callable[[], None]) -> tuple[float, float, float, float, dict[str, float]]:
    """Run ``command`` (which starts subprocesses); return (wall seconds, CPU seconds of all descendants,
    peak RSS and peak PSS in MB, each summed over the descendants alive at once, sampled every 50 ms,
    and CPU seconds by kind of process).

    RSS counts the pages forked workers share once per process (an upper bound); PSS splits shared
    pages between the processes sharing them (what the tree really holds). CPU seconds are the last
    sampled own CPU time of every descendant seen (a lower bound: a process that lived less than one
    period, e.g. a short tool call, may be missed), less what those already running had used before."""
    import psutil

    me = psutil.Process()
    own_cpu = time.process_time()  # this process: the sampler's own work, which competes for the same cores
    peak_rss = peak_pss = 0
    seen: dict[int, tuple[str, float]] = {}
    before: dict[int, float] = {}  # processes already running (a server started earlier): their CPU until now
    for child in me.children(recursive=True):
        try:
            times = child.cpu_times()
            before[child.pid] = times.user + times.system
        except psutil.Error:
            pass
    with ThreadPoolExecutor(1) as pool:
        start = time.perf_counter()
        job = pool.submit(command)
        while not job.done():
            rss = pss = 0
            pss_by_kind: dict[str, int] = {}
            for child in me.children(recursive=True):
                try:
                    rss += child.memory_info().rss
                    times = child.cpu_times()
                    kind = seen[child.pid][0] if child.pid in seen else kind_of(child.cmdline())
                    share = _pss(child.pid)
                    pss += share
                    pss_by_kind[kind] = pss_by_kind.get(kind, 0) + share
                    seen[child.pid] = (kind, times.user + times.system - before.get(child.pid, 0.0))
                except psutil.Error:
                    pass
            if pss > peak_pss:
                PEAK_PSS_BY_KIND.clear()
                PEAK_PSS_BY_KIND.update({kind: round(value / 1e6) for kind, value in pss_by_kind.items()})
            peak_rss, peak_pss = max(peak_rss, rss), max(peak_pss, pss)
            time.sleep(SAMPLE_EVERY)
        job.result()
        seconds = time.perf_counter() - start
    SAMPLER_CPU[0] = time.process_time() - own_cpu
    by_kind: dict[str, float] = {}
    for kind, cpu in seen.values():
        by_kind[kind] = round(by_kind.get(kind, 0.0) + cpu, 1)
    return seconds, sum(cpu for _, cpu in seen.values()), peak_rss / 1e6, peak_pss / 1e6, by_kind


#: Seconds between two samples of the process tree (``--sample-every``): each reads every descendant's
#: memory map summary (``smaps_rollup``), whose cost grows with the process's size, on the cores measured.
SAMPLE_EVERY = 0.05
#: The CPU seconds the benchmark's own process (mostly the sampler) used during the last measurement.
SAMPLER_CPU = [0.0]

#: The PSS (MB) of each kind of process at the last measurement's peak.
PEAK_PSS_BY_KIND: dict[str, int] = {}


def _pss(pid: int) -> int:
    """Proportional set size of a process in bytes (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as rollup:
            for line in rollup:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass
class Outcome:
    contender: str
    command: str
    pages: int
    seconds: float
    cpu_seconds: float
    pages_per_minute: float
    peak_rss_mb: float
    peak_pss_mb: float
    cer: float | None
    load_before: float
    load_after: float
    notes: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Backlog:
    root: Path
    documents: list[dict]

    @property
    def pages(self) -> int:
        return sum(len(d["pages"]) for d in self.documents)

    def truth(self, document: dict) -> str:
        folder = self.root / "truth" / document["document"]
        return "\n".join((folder / f"page-{p['number']:03d}.txt").read_text(encoding="utf-8")
                         for p in document["pages"])


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Prefect's API or digitize's settings, one Tesseract thread, no telemetry."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGITIZE_", "PREFECT_"))}
    env.update(OMP_THREAD_LIMIT="1", DO_NOT_TRACK="1", PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PATH=f"{VENV_BIN}:{env.get('PATH', '')}")
    env.update(extra)
    return env


def sh(command: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a shell command line, as printed in the README; its failure stops the benchmark."""
    done = subprocess.run(["bash", "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if done.returncode != 0:
        raise RuntimeError(f"{command!r} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def pdf_text(pdf: Path) -> str:
    return subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True,
                          timeout=600).stdout


def cer_of(backlog: Backlog, texts: dict[str, str]) -> float:
    """Character errors over the set: per document, Levenshtein of the normalized texts; summed / truth length.
    A document with no output counts as all wrong."""
    errors = length = 0
    for document in backlog.documents:
        truth = normalize(backlog.truth(document))
        errors += Levenshtein.distance(normalize(texts.get(document["document"], "")), truth)
        length += len(truth)
    return round(100 * errors / max(1, length), 2)


def timed(name: str, command: str, cwd: Path, env: dict[str, str], pages: int) -> tuple[Outcome, str]:
    """Run ``command`` in ``cwd`` and measure it; returns the outcome (no CER yet) and its output."""
    out: list[subprocess.CompletedProcess[str]] = []
    load = os.getloadavg()[0]
    seconds, cpu, rss, pss, by_kind = measure(lambda: out.append(sh(command, cwd, env)))
    outcome = Outcome(name, command, pages, round(seconds, 1), round(cpu, 1), round(pages * 60 / seconds, 1),
                      round(rss), round(pss), None, round(load, 2), round(os.getloadavg()[0], 2),
                      {"sampler_cpu_s": round(SAMPLER_CPU[0], 1),
                       "cpu_by_process": dict(sorted(by_kind.items(), key=lambda kv: -kv[1])),
                       "peak_pss_mb_by_process": dict(sorted(PEAK_PSS_BY_KIND.items(), key=lambda kv: -kv[1]))})
    return outcome, out[0].stdout + out[0].stderr


def fresh(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return folder


def copy_inbox(backlog: Backlog, run_dir: Path) -> None:
    """The set's inbox into ``run_dir/var/inbox``, modification times kept (the files are settled)."""
    shutil.copytree(backlog.root / "inbox", run_dir / "var" / "inbox", copy_function=shutil.copy2)


# --- contenders ---------------------------------------------------------------------


def floor(backlog: Backlog, results: Path) -> Outcome:
    out = fresh(results / "floor")
    command = (f"ls {backlog.root}/pages/*.jpg | xargs -P 2 -I{{}} sh -c "
               "'tesseract {} \"$(basename {} .jpg)\" -l vie --dpi 300 pdf 2>/dev/null'")
    outcome, _ = timed("floor", command, out, clean_env(), backlog.pages)
    texts = {d["document"]: "\n".join(pdf_text(out / f"{d['document']}-{p['number']:03d}.pdf") for p in d["pages"])
             for d in backlog.documents}
    outcome.cer = cer_of(backlog, texts)
    return outcome


#: The visible signature's three lines (copy form, agency, signing time): drawn by signing, not scanned text.
STAMP = re.compile(r"^[ \t]*(SAO Y)[ \t]*\n[ \t]*(.*?)[ \t]*\n[ \t]*(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d)[ \t]*$",
                   re.MULTILINE)
STAMP_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d")


def archived_texts(var: Path) -> dict[str, str]:
    """The text of each archived PDF under ``var/archive``, by document code, without the signature's stamp
    (its three lines; where pdftotext mixes them into the page's own lines, the copy form, the agency and
    the time wherever they are)."""
    texts = {p.stem: pdf_text(p) for p in (var / "archive").rglob("*.pdf") if ".signed-original" not in p.name}
    agencies = {m.group(2) for text in texts.values() for m in STAMP.finditer(text) if m.group(2)}
    out = {}
    for code, text in texts.items():
        text = STAMP.sub("", text, count=1)
        if STAMP_TIME.search(text):  # the stamp's lines not in a block of their own
            for agency in agencies:
                text = text.replace(agency, "", 1)
            text = STAMP_TIME.sub("", text.replace("SAO Y", "", 1), count=1)
        out[code] = text
    return out


def stage_times(prefect_home: Path, started: float) -> dict[str, object]:
    """What the Prefect database of a run tells (what the server stored of it).

    Per task name (scan, sign, verify, archive, catalog; ``digitize-document`` is a document's whole child
    flow run): count, median, p95, max and total seconds. ``first_flow_run_s``: from the command's start
    (``started``, epoch seconds) to the creation of the ``process-inbox`` run (imports and the server
    start). ``scan_busy``: the share of the time from the first scan's start to the last one's end during
    which some scan task ran (below 1: the page workers had nothing to do). ``waits``: median seconds from
    one stage's end to the next one's start in a document (the orchestration between tasks);
    ``pending_to_running``: per task, seconds from its PENDING state to RUNNING (for a tagged task the
    client first acquires a slot of the tag's concurrency limit from the server)."""
    db = prefect_home / "prefect.db"
    if not db.is_file():
        return {}
    with sqlite3.connect(db) as conn:
        tasks = conn.execute("SELECT flow_run_id, name, start_time, end_time FROM task_run "
                             "WHERE state_type = 'COMPLETED' AND start_time IS NOT NULL").fetchall()
        first = conn.execute("SELECT min(created) FROM flow_run").fetchone()[0]
        states = conn.execute("SELECT t.name, s.type, s.timestamp FROM task_run_state s "
                              "JOIN task_run t ON t.id = s.task_run_id WHERE s.type IN ('PENDING', 'RUNNING') "
                              "ORDER BY s.timestamp").fetchall()
    pending_since: dict[str, float] = {}
    pending: dict[str, list[float]] = {}
    for name, kind, stamp in states:
        if kind == "PENDING":
            pending_since.setdefault(name, _epoch(stamp))
        elif name in pending_since:
            pending.setdefault(re.sub(r"-(?:[0-9a-f]{3}|\d+)$", "", name), []).append(
                _epoch(stamp) - pending_since.pop(name))
    by_stage: dict[str, list[float]] = {}
    by_flow: dict[str, list[tuple[float, float, str]]] = {}
    for flow_run, name, start, end in tasks:  # named <task>-<3 hex digits>; a child flow run's task, as the flow
        stage = re.sub(r"-(?:[0-9a-f]{3}|\d+)$", "", name)
        begin, finish = _epoch(start), _epoch(end)
        by_stage.setdefault(stage, []).append(finish - begin)
        by_flow.setdefault(flow_run, []).append((begin, finish, stage))
    scans = sorted((b, f) for runs in by_flow.values() for b, f, stage in runs if stage == "scan")
    busy, reach = 0.0, None
    for begin, finish in scans:  # the union of the scan intervals
        if reach is None or begin > reach:
            busy += finish - begin
            reach = finish
        elif finish > reach:
            busy += finish - reach
            reach = finish
    waits: dict[str, list[float]] = {}
    for runs in by_flow.values():
        ordered = sorted(runs)
        for (_, end_a, a), (begin_b, _, b) in zip(ordered, ordered[1:]):
            waits.setdefault(f"{a} -> {b}", []).append(begin_b - end_a)
    return {
        "first_flow_run_s": round(_epoch(first) - started, 1) if first else None,
        "scan_busy": round(busy / (max(f for _, f in scans) - scans[0][0]), 2) if scans else None,
        "waits": {k: round(statistics.median(v), 2) for k, v in waits.items() if "digitize-document" not in k},
        "pending_to_running": {k: summary(v) for k, v in sorted(pending.items())},
        "stages": {stage: summary(values) for stage, values in sorted(by_stage.items())},
    }


def _epoch(text: str) -> float:
    """A Prefect time stamp (ISO 8601, UTC) as epoch seconds."""
    from datetime import datetime, timezone

    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()


def summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"count": len(ordered), "median": round(statistics.median(ordered), 3), "p95": round(p95, 3),
            "max": round(ordered[-1], 3), "total": round(sum(ordered), 1)}


def settings_env(assignments: list[str]) -> dict[str, str]:
    """``section.key=value`` settings as ``DIGITIZE_SECTION__KEY`` variables."""
    env = {}
    for assignment in assignments:
        key, _, value = assignment.partition("=")
        section, _, name = key.partition(".")
        env[f"DIGITIZE_{section.upper()}__{name.upper()}"] = value
    return env


def run(backlog: Backlog, results: Path, name: str = "run") -> Outcome:
    """``digitize run`` as a user runs it; ``name`` ``run:ocr.documents_in_flight=6`` adds settings."""
    run_dir = fresh(results / name.replace(":", "-"))
    copy_inbox(backlog, run_dir)
    # Prefect's temporary server must answer within 20 s by default: on a loaded 2-core box it may not.
    env = clean_env(PREFECT_HOME=str(run_dir / "prefect"), PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120",
                    **RUN_SETTINGS, **settings_env(name.split(":")[1:]))
    cold = name.split(":")[0] == "run-cold"
    if not cold:  # as `bash run.sh setup` does once: the server's first start then migrates nothing
        subprocess.run([str(VENV_BIN / "prefect"), "server", "database", "upgrade", "-y"], cwd=run_dir, env=env,
                       check=True, capture_output=True, timeout=600)
    started = time.time()
    outcome, output = timed(name, "digitize run --level xa", run_dir, env, backlog.pages)
    outcome.cer = cer_of(backlog, archived_texts(run_dir / "var"))
    totals = [line for line in output.splitlines() if line.startswith("processed ")]
    outcome.notes |= {"totals": totals[-1] if totals else output[-500:], **stage_times(run_dir / "prefect", started)}
    return outcome


def ocr_inputs(backlog: Backlog) -> list[Path]:
    return [backlog.root / d["file"] for d in backlog.documents]


def ocr(backlog: Backlog, results: Path, parallel: bool) -> Outcome:
    name = "ocr-parallel" if parallel else "ocr"
    out = fresh(results / name)
    listing = out / "inputs.txt"
    listing.write_text("".join(f"{p}\n" for p in ocr_inputs(backlog)), encoding="utf-8")
    one = 'digitize ocr "$1" -o "$(basename "${1%.*}").pdf"'
    command = (f"xargs -P 2 -I{{}} sh -c '{one} --jobs 1 >/dev/null' _ {{}} < inputs.txt" if parallel
               else f"xargs -I{{}} sh -c '{one} --jobs 2 >/dev/null' _ {{}} < inputs.txt")
    outcome, _ = timed(name, command, out, clean_env(), backlog.pages)
    outcome.cer = cer_of(backlog, {d["document"]: pdf_text(out / f"{d['document']}.pdf")
                                   for d in backlog.documents if (out / f"{d['document']}.pdf").is_file()})
    return outcome


def ocr_set(backlog: Backlog, results: Path) -> Outcome:
    """``digitize ocr --output-dir OUT --jobs 2`` over the set's inputs: one command, each dossier its own
    document, every document's pages on one page pool (what a user with many files runs)."""
    out = fresh(results / "ocr-set")
    (out / "inputs.txt").write_text("".join(f"{p}\n" for p in ocr_inputs(backlog)), encoding="utf-8")
    command = "xargs -d '\\n' digitize ocr --output-dir . --jobs 2 < inputs.txt >ocr-set.log 2>&1"
    outcome, _ = timed("ocr-set", command, out, clean_env(), backlog.pages)
    outcome.cer = cer_of(backlog, {d["document"]: pdf_text(out / f"{d['document']}.pdf")
                                   for d in backlog.documents if (out / f"{d['document']}.pdf").is_file()})
    log = (out / "ocr-set.log").read_text(encoding="utf-8", errors="replace").splitlines()
    outcome.notes |= {"totals": next((line for line in reversed(log) if "pages/min" in line or "trang/phút" in line),
                                     "")}
    return outcome


def ocr_one(backlog: Backlog, results: Path) -> Outcome:
    """``digitize ocr`` on every page of the set as one document (one command, ``--jobs 2``): many pages
    of one document, the case where the engine alone must keep both cores busy to the end."""
    out = fresh(results / "ocr-one")
    command = f"digitize ocr {backlog.root}/pages/*.jpg -o all.pdf --jobs 2 >/dev/null"
    outcome, _ = timed("ocr-one", command, out, clean_env(), backlog.pages)
    truth = normalize("\n".join(backlog.truth(d) for d in sorted(backlog.documents, key=lambda d: d["document"])))
    text = normalize(pdf_text(out / "all.pdf")) if (out / "all.pdf").is_file() else ""
    outcome.cer = round(100 * Levenshtein.distance(text, truth) / max(1, len(truth)), 2)
    return outcome


def ocrmypdf(backlog: Backlog, results: Path, parallel: bool) -> Outcome:
    import img2pdf

    name = "ocrmypdf-parallel" if parallel else "ocrmypdf"
    out = fresh(results / name)
    inputs = []
    for source in ocr_inputs(backlog):
        if source.suffix == ".tif":  # OCRmyPDF reads one-frame images only
            target = out / "in" / f"{source.stem}.pdf"
            target.parent.mkdir(exist_ok=True)
            target.write_bytes(img2pdf.convert(str(source)))
            source = target
        inputs.append(source)
    (out / "inputs.txt").write_text("".join(f"{p}\n" for p in inputs), encoding="utf-8")
    one = ('ocrmypdf -q -l vie --output-type pdfa --deskew --rotate-pages -j JOBS "$1" '
           '"$(basename "${1%.*}").pdf"')
    command = (f"xargs -P 2 -I{{}} sh -c '{one.replace('JOBS', '1')}' _ {{}} < inputs.txt" if parallel
               else f"xargs -I{{}} sh -c '{one.replace('JOBS', '2')}' _ {{}} < inputs.txt")
    outcome, _ = timed(name, command, out, clean_env(), backlog.pages)
    outcome.cer = cer_of(backlog, {d["document"]: pdf_text(out / f"{d['document']}.pdf")
                                   for d in backlog.documents if (out / f"{d['document']}.pdf").is_file()})
    return outcome


def steps(backlog: Backlog, results: Path) -> Outcome:
    """Sign, verify, archive and catalog each scanned PDF/A, timing each step of the pipeline package."""
    import pikepdf

    import pipeline
    from digitize.models import DocumentMeta, parse_document_code
    from digitize.settings import load_settings
    from signing.session import open_signing_session
    from storage.archive import open_archive
    from storage.catalog import open_catalog
    from storage.hashing import sha256_file

    scanned_dir = results / "ocr"
    if not all((scanned_dir / f"{d['document']}.pdf").is_file() for d in backlog.documents):
        ocr(backlog, results, parallel=False)
    run_dir = fresh(results / "steps")
    (run_dir / "digitize.toml").write_text("", encoding="utf-8")
    settings = load_settings(run_dir / "digitize.toml", environ={})
    load = os.getloadavg()[0]
    started = time.perf_counter()
    session = open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache)
    opened = time.perf_counter() - started
    store = open_archive(settings.archive)
    per_step: dict[str, list[float]] = {}
    totals = []
    with session, open_catalog(settings.catalog) as catalog:
        for document in backlog.documents:
            code, kind, number = parse_document_code(document["document"])
            meta = DocumentMeta(code, kind, number, "xa", document["office"])
            pdf = scanned_dir / f"{document['document']}.pdf"
            input_sha = sha256_file(pdf)
            work = pipeline.WorkFolder.for_document(settings.paths.work, meta, input_sha, "bench").create()
            copy = work.root / "output.pdfa.pdf"
            shutil.copyfile(pdf, copy)
            with pikepdf.open(copy) as opened_pdf:
                pages = len(opened_pdf.pages)
            scanned = pipeline.ScanSummary(pdf=copy, pages=pages, confidence=90.0)
            clock = {"start": time.perf_counter()}
            pipeline.reserve(catalog, meta, input_sha)
            clock["reserve"] = time.perf_counter()
            signed = pipeline.sign(scanned, work, session)
            clock["sign"] = time.perf_counter()
            pipeline.verify(signed, meta, session)
            clock["verify"] = time.perf_counter()
            receipt = pipeline.archive(meta, signed, scanned, input_sha, store)
            clock["archive"] = time.perf_counter()
            pipeline.record(catalog, meta, receipt, signed, scanned, input_sha)
            clock["record"] = time.perf_counter()
            marks = list(clock.values())
            for (name, _), before, after in zip(list(clock.items())[1:], marks, marks[1:]):
                per_step.setdefault(name, []).append(after - before)
            totals.append(marks[-1] - marks[0])
    seconds = time.perf_counter() - started
    total = summary(totals)
    return Outcome(
        "steps", "bench/backlog_bench.py --only steps (reserve, sign, verify, archive, record per document)",
        backlog.pages, round(seconds, 1), 0.0, round(backlog.pages * 60 / seconds, 1), 0, 0, None,
        round(load, 2), round(os.getloadavg()[0], 2),
        {"documents": len(totals), "session_open_s": round(opened, 3), "per_document_s": total,
         "first_document_s": round(totals[0], 3),
         "steps": {name: summary(values) for name, values in per_step.items()}},
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(home: Path) -> tuple[subprocess.Popen, str, float]:
    """A Prefect server on a free port with its own home; returns it, its API URL and its start time."""
    port = free_port()
    env = clean_env(PREFECT_HOME=str(home), PREFECT_SERVER_API_PORT=str(port))
    started = time.perf_counter()
    server = subprocess.Popen([str(VENV_BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    while time.perf_counter() - started < 180:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                if answer.status == 200:
                    return server, url, time.perf_counter() - started
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError("the Prefect server did not start within 180 s")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def two_workers(backlog: Backlog, results: Path) -> list[Outcome]:
    """One run, then two runs at once (default page workers, then one each), against one running server."""
    base = fresh(results / "two-workers")
    server, url, startup = start_server(base / "server")
    outcomes = []
    try:
        for name, runs, workers in (("1 run", 1, None), ("2 runs", 2, None), ("2 runs, 1 page worker each", 2, 1)):
            run_dir = fresh(base / name.replace(" ", "-").replace(",", ""))
            copy_inbox(backlog, run_dir)
            extra = {"DIGITIZE_OCR__WORKERS": str(workers)} if workers else {}
            commands = [f"PREFECT_HOME=home{i} digitize run --level xa > run{i}.log 2>&1" for i in range(1, runs + 1)]
            # every run waited for; any run that failed fails the whole
            command = commands[0] if runs == 1 else (
                f"{commands[0]} & p1=$!; {commands[1]} & p2=$!; wait $p1; a=$?; wait $p2; b=$?; test $a = 0 -a $b = 0")
            outcome, _ = timed(f"two-workers: {name}", command, run_dir, clean_env(PREFECT_API_URL=url, **{**RUN_SETTINGS, **extra}),
                               backlog.pages)
            var = run_dir / "var"
            outcome.cer = cer_of(backlog, archived_texts(var))
            with sqlite3.connect(var / "catalog.sqlite") as db:
                codes = [row[0] for row in db.execute("SELECT document_code FROM documents")]
            per_run = []
            for i in range(1, runs + 1):
                log = (run_dir / f"run{i}.log").read_text(encoding="utf-8", errors="replace")
                per_run.append(sum(f"{d['document']} " in line and " archived " in line
                                   for d in backlog.documents for line in log.splitlines()))
            outcome.notes |= {"server_start_s": round(startup, 1), "catalog_rows": len(codes),
                             "distinct": len(set(codes)), "documents": len(backlog.documents),
                             "archived_pdfs": sum(1 for p in (var / "archive").rglob("*-KQ1.pdf")),
                             "archived_by_each_run": per_run}
            outcomes.append(outcome)
    finally:
        stop_server(server)
    return outcomes


# --- report -------------------------------------------------------------------------


def print_table(results: list[Outcome]) -> str:
    out = io.StringIO()
    out.write("| contender | pages | wall s | CPU s | pages/min | x floor wall | x floor CPU | peak RSS MB "
              "| peak PSS MB | CER % | load before/after |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    base = next((r for r in results if r.contender == "floor"), None)
    for r in results:
        ratio = (f"{r.seconds / base.seconds:.2f} | {r.cpu_seconds / base.cpu_seconds:.2f}"
                 if base and r.cpu_seconds else f"{r.seconds / base.seconds:.2f} | -" if base else "- | -")
        cer = "-" if r.cer is None else f"{r.cer:.2f}"
        out.write(f"| {r.contender} | {r.pages} | {r.seconds} | {r.cpu_seconds or '-'} | {r.pages_per_minute} | "
                  f"{ratio} | {r.peak_rss_mb or '-'} | {r.peak_pss_mb or '-'} | {cer} | {r.load_before}/{r.load_after} |\n")
    return out.getvalue()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--only", default=ALL, help=f"contenders, comma-separated (default {ALL})")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                        help="a setting for every digitize run (as DIGITIZE_SECTION__KEY), e.g. "
                             "ocr.documents_in_flight=6")
    parser.add_argument("--sample-every", type=float, default=SAMPLE_EVERY, metavar="SECONDS",
                        help="seconds between two samples of the process tree's memory and CPU (default 0.05); "
                             "the sampler's own CPU is reported as sampler_cpu_s")
    args = parser.parse_args()
    RUN_SETTINGS.update(settings_env(args.set))
    globals()["SAMPLE_EVERY"] = args.sample_every
    root = REPO / "var" / "bench" / f"backlog-{args.pages}-s{args.seed}"
    make_backlog(root, args.pages, args.seed, jobs=2)
    index = json.loads((root / "backlog.json").read_text(encoding="utf-8"))
    backlog = Backlog(root, index["documents"])
    results_dir = root / "results"
    print(f"{root}: {len(backlog.documents)} dossiers, {backlog.pages} pages; load {os.getloadavg()}", flush=True)
    outcomes: list[Outcome] = []
    for name in args.only.split(","):
        if name == "floor":
            found = [floor(backlog, results_dir)]
        elif name.split(":")[0] in ("run", "run-cold"):
            found = [run(backlog, results_dir, name)]
        elif name == "ocr-one":
            found = [ocr_one(backlog, results_dir)]
        elif name == "ocr-set":
            found = [ocr_set(backlog, results_dir)]
        elif name in ("ocr", "ocr-parallel"):
            found = [ocr(backlog, results_dir, parallel=name == "ocr-parallel")]
        elif name in ("ocrmypdf", "ocrmypdf-parallel"):
            found = [ocrmypdf(backlog, results_dir, parallel=name == "ocrmypdf-parallel")]
        elif name == "steps":
            found = [steps(backlog, results_dir)]
        elif name == "two-workers":
            found = two_workers(backlog, results_dir)
        else:
            raise SystemExit(f"unknown contender {name!r}; known: {ALL},ocrmypdf-parallel,ocr-one,ocr-set,run-cold")
        for outcome in found:
            print(json.dumps(asdict(outcome), ensure_ascii=False), flush=True)
        outcomes += found
    print(print_table(outcomes))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], ensure_ascii=False, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
