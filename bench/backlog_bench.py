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

    .venv/bin/python bench/backlog_bench.py [--pages 100] [--seed 13] [--only floor,run,ocr,...] [--repeat N]
                                            [--json FILE]

``--repeat N`` runs the contenders N times in turn (round k: the floor, then the others in the order given),
each on fresh state as one round does; each contender's ratio to the floor is taken within its round, and the
median, min and max over the rounds are reported with every figure's (bench/backlog.md, "Paired rounds").
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
    from ocr_bench import normalize  # the measuring tools (bench extra), imported where used
    from rapidfuzz.distance import Levenshtein

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
    # the run's last line, in the language of ui.language (Vietnamese by default)
    totals = [line for line in output.splitlines() if line.startswith(("processed ", "đã xử lý "))]
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
    from ocr_bench import normalize
    from rapidfuzz.distance import Levenshtein

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


#: The pipeline's steps after the scan, in the order a document goes through them (:func:`through_steps`).
STEP_NAMES = ("reserve", "sign", "verify", "archive", "record")


def step_inputs(document: dict, scanned_dir: Path, work_root: Path, *, assembled: bool):
    """One document of the set as the steps after the scan take it: its metadata, its input's SHA-256, its work
    folder (under ``work_root``) holding a copy of its scanned PDF/A, and the scan's summary. ``assembled``: the
    summary carries the PDF/A's SHA-256 as a real run's does (verify does not validate it again); else verify
    validates the PDF/A in full."""
    import pikepdf

    import pipeline
    from digitize.models import DocumentMeta, parse_document_code
    from storage.hashing import sha256_file

    code, kind, number = parse_document_code(document["document"])
    meta = DocumentMeta(code, kind, number, "xa", document["office"])
    source = scanned_dir / f"{document['document']}.pdf"
    input_sha = sha256_file(source)
    work = pipeline.WorkFolder.for_document(work_root, meta, input_sha, "bench").create()
    copy = work.root / "output.pdfa.pdf"
    shutil.copyfile(source, copy)
    with pikepdf.open(copy) as pdf:
        pages = len(pdf.pages)
    scanned = pipeline.ScanSummary(pdf=copy, pages=pages, confidence=90.0,
                                   pdfa_sha256=sha256_file(copy) if assembled else None)
    return meta, input_sha, work, scanned


def through_steps(catalog, session, store, meta, input_sha: str, work, scanned,
                  clock: Callable[[], float]) -> list[float]:
    """Reserve, sign, verify, archive and record one document (:data:`STEP_NAMES`); ``clock`` read before the
    first step and after each (six marks)."""
    import pipeline

    marks = [clock()]
    pipeline.reserve(catalog, meta, input_sha)
    marks.append(clock())
    signed = pipeline.sign(scanned, work, session)
    marks.append(clock())
    pipeline.verify(signed, meta, session)
    marks.append(clock())
    receipt = pipeline.archive(meta, signed, scanned, input_sha, store)
    marks.append(clock())
    pipeline.record(catalog, meta, receipt, signed, scanned, input_sha)
    marks.append(clock())
    return marks


def steps(backlog: Backlog, results: Path) -> Outcome:
    """Sign, verify, archive and catalog each scanned PDF/A, timing each step of the pipeline package."""
    from digitize.settings import load_settings
    from signing.session import open_signing_session
    from storage.archive import open_archive
    from storage.catalog import open_catalog

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
            meta, input_sha, work, scanned = step_inputs(document, scanned_dir, settings.paths.work, assembled=False)
            marks = through_steps(catalog, session, store, meta, input_sha, work, scanned, time.perf_counter)
            for name, before, after in zip(STEP_NAMES, marks[:-1], marks[1:], strict=True):
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


def floor_of(outcomes: list[Outcome]) -> Outcome | None:
    """The floor among one round's outcomes, if it was run."""
    return next((r for r in outcomes if r.contender == "floor"), None)


def ratios(outcome: Outcome, base: Outcome | None) -> tuple[float | None, float | None]:
    """``outcome``'s wall and CPU seconds over ``base``'s (the floor of the same round); None where there is
    no floor, or no CPU measured for ``outcome`` (``steps`` times calls inside this process)."""
    if base is None:
        return None, None
    return outcome.seconds / base.seconds, (outcome.cpu_seconds / base.cpu_seconds if outcome.cpu_seconds else None)


def print_table(results: list[Outcome]) -> str:
    """One round's outcomes as a Markdown table, each against the floor of the same round."""
    out = io.StringIO()
    out.write("| contender | pages | wall s | CPU s | pages/min | x floor wall | x floor CPU | peak RSS MB "
              "| peak PSS MB | CER % | load before/after |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    base = floor_of(results)
    for r in results:
        wall, cpu = ratios(r, base)
        ratio = f"{'-' if wall is None else f'{wall:.2f}'} | {'-' if cpu is None else f'{cpu:.2f}'}"
        cer = "-" if r.cer is None else f"{r.cer:.2f}"
        out.write(f"| {r.contender} | {r.pages} | {r.seconds} | {r.cpu_seconds or '-'} | {r.pages_per_minute} | "
                  f"{ratio} | {r.peak_rss_mb or '-'} | {r.peak_pss_mb or '-'} | {cer} | {r.load_before}/{r.load_after} |\n")
    return out.getvalue()


def in_rounds(names: list[str], repeat: int, contender: Callable[[str], list[Outcome]],
              done: Callable[[int, list[Outcome]], None] = lambda k, found: None,
              ended: Callable[[int, list[Outcome]], None] = lambda k, outcomes: None) -> list[list[Outcome]]:
    """Measure the contenders ``names`` ``repeat`` times in turn (A B A B ...): round k runs each once, in the
    order given, the floor first when there are several rounds, so that each contender is compared with a
    floor measured minutes before it, not with one of another round. ``contender(name)`` measures one on
    fresh state (it may give several outcomes: ``two-workers``); ``done(k, found)`` is told each contender's
    outcomes as it ends, ``ended(k, outcomes)`` each round's. Returns the outcomes round by round."""
    if repeat > 1 and "floor" in names:
        names = ["floor"] + [name for name in names if name != "floor"]
    rounds = []
    for k in range(1, repeat + 1):
        outcomes: list[Outcome] = []
        for name in names:
            found = contender(name)
            done(k, found)
            outcomes += found
        rounds.append(outcomes)
        ended(k, outcomes)
    return rounds


def pair_ratios(rounds: list[list[Outcome]]) -> dict[str, dict[str, list[float | None]]]:
    """Each contender but the floor: its wall and CPU ratios to the floor of the same round, one per round
    (``{"wall": [...], "cpu": [...]}``; None in a round without a floor, without CPU measured or without
    that contender)."""
    pairs: dict[str, dict[str, list[float | None]]] = {}
    for k, outcomes in enumerate(rounds):
        base = floor_of(outcomes)
        for outcome in outcomes:
            if outcome.contender == "floor":
                continue
            entry = pairs.setdefault(outcome.contender, {"wall": [None] * len(rounds), "cpu": [None] * len(rounds)})
            entry["wall"][k], entry["cpu"][k] = ratios(outcome, base)
    return pairs


def spread(values: list[float | None]) -> dict[str, float] | None:
    """Median, min and max of ``values`` (None left out) and how many there were; None when there are none."""
    present = [value for value in values if value is not None]
    if not present:
        return None
    return {"median": round(statistics.median(present), 3), "min": round(min(present), 3),
            "max": round(max(present), 3), "n": len(present)}


def _numbers(value: object, path: tuple[str, ...] = ()):
    """The numbers in an outcome's dict (and its nested notes), each with its path of keys; texts, flags and
    None left out."""
    if isinstance(value, bool):
        return
    if isinstance(value, (int, float)):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _numbers(item, (*path, str(key)))


def figures_over_rounds(outcomes: list[dict]) -> dict:
    """One contender's outcomes (as dicts, one per round): the same shape, each number replaced by its
    :func:`spread` over the rounds that have it (e.g. ``notes.cpu_by_process.tesseract``)."""
    found: dict[tuple[str, ...], list[float]] = {}
    for outcome in outcomes:
        for path, value in _numbers(outcome):
            found.setdefault(path, []).append(value)
    nested: dict = {}
    for path, values in found.items():
        node = nested
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = spread(values)
    return nested


def summarize(rounds: list[list[Outcome]]) -> dict[str, dict]:
    """Per contender, in the order they ran: how many rounds measured it, its ratios to the floor taken pair
    by pair (``x_floor_wall``, ``x_floor_cpu``: ``per_round`` and their median, min and max; not for the
    floor itself) and every figure's median, min and max over the rounds (``figures``)."""
    pairs = pair_ratios(rounds)
    by_name: dict[str, list[dict]] = {}
    for outcomes in rounds:
        for outcome in outcomes:
            by_name.setdefault(outcome.contender, []).append(asdict(outcome))
    out: dict[str, dict] = {}
    for name, found in by_name.items():
        entry: dict = {"rounds": len(found)}
        for kind in ("wall", "cpu"):
            if name in pairs:
                per_round = pairs[name][kind]
                entry[f"x_floor_{kind}"] = {"per_round": [None if r is None else round(r, 3) for r in per_round],
                                            **(spread(per_round) or {})}
        entry["figures"] = figures_over_rounds(found)
        out[name] = entry
    return out


def _spread_text(figure: dict | None, digits: int = 2, zero_is_none: bool = False) -> str:
    """``median (min-max)``, or the one value when all rounds agree; ``-`` for none (or for zero with
    ``zero_is_none``: CPU and memory are 0 where they were not measured, as in ``steps``; a ratio with no
    round measured has its ``per_round`` only)."""
    if not figure or "median" not in figure or (zero_is_none and not figure["median"]):
        return "-"
    median, low, high = (f"{figure[key]:.{digits}f}" for key in ("median", "min", "max"))
    return median if low == high else f"{median} ({low}-{high})"


def print_summary(summary: dict[str, dict], repeat: int) -> str:
    """The rounds' medians as a Markdown table, then each contender's CPU by process and other figures."""
    out = io.StringIO()
    out.write(f"Over {repeat} rounds, median (min-max); x floor: each round against the floor of the same round\n\n"
              "| contender | rounds | wall s | CPU s | pages/min | x floor wall | x floor CPU | peak PSS MB | CER % |\n"
              "|---|---|---|---|---|---|---|---|---|\n")
    for name, entry in summary.items():
        got = entry["figures"]
        out.write(f"| {name} | {entry['rounds']} | {_spread_text(got.get('seconds'), 1)} | "
                  f"{_spread_text(got.get('cpu_seconds'), 1, True)} | {_spread_text(got.get('pages_per_minute'), 1)} | "
                  f"{_spread_text(entry.get('x_floor_wall'))} | {_spread_text(entry.get('x_floor_cpu'))} | "
                  f"{_spread_text(got.get('peak_pss_mb'), 0, True)} | {_spread_text(got.get('cer'))} |\n")
    out.write("\n")
    for name, entry in summary.items():
        notes = entry["figures"].get("notes", {})
        parts = []
        if notes.get("cpu_by_process"):
            parts.append("CPU s by process " + ", ".join(f"{kind} {_spread_text(figure, 1)}"
                                                         for kind, figure in notes["cpu_by_process"].items()))
        if notes.get("peak_pss_mb_by_process"):
            parts.append("peak PSS MB by process " + ", ".join(
                f"{kind} {_spread_text(figure, 0)}" for kind, figure in notes["peak_pss_mb_by_process"].items()))
        if notes.get("per_document_s"):
            parts.append(f"per document p95 s {_spread_text(notes['per_document_s'].get('p95'), 3)}, "
                         f"median s {_spread_text(notes['per_document_s'].get('median'), 3)}")
        if notes.get("first_flow_run_s"):
            parts.append(f"first flow run s {_spread_text(notes['first_flow_run_s'], 1)}")
        if notes.get("sampler_cpu_s"):
            parts.append(f"sampler CPU s {_spread_text(notes['sampler_cpu_s'], 1)}")
        if parts:
            out.write(f"- {name}: {'; '.join(parts)}\n")
    return out.getvalue()


def measure_contender(name: str, backlog: Backlog, results_dir: Path) -> list[Outcome]:
    """Run the contender ``name`` once on fresh state (its own folder under ``results_dir`` made anew)."""
    kind = name.split(":")[0]
    if name == "floor":
        return [floor(backlog, results_dir)]
    if kind in ("run", "run-cold"):
        return [run(backlog, results_dir, name)]
    if name == "ocr-one":
        return [ocr_one(backlog, results_dir)]
    if name == "ocr-set":
        return [ocr_set(backlog, results_dir)]
    if name in ("ocr", "ocr-parallel"):
        return [ocr(backlog, results_dir, parallel=name == "ocr-parallel")]
    if name in ("ocrmypdf", "ocrmypdf-parallel"):
        return [ocrmypdf(backlog, results_dir, parallel=name == "ocrmypdf-parallel")]
    if name == "steps":
        return [steps(backlog, results_dir)]
    if name == "two-workers":
        return two_workers(backlog, results_dir)
    raise SystemExit(f"unknown contender {name!r}; known: {KNOWN}")


KNOWN = f"{ALL},ocrmypdf-parallel,ocr-one,ocr-set,run-cold"


def read_set(backlog: Backlog) -> int:
    """Read every file of the set once (the page cache then holds it for every round alike, not from round 2
    on only); returns the bytes read."""
    read = 0
    for path in sorted((backlog.root / "pages").glob("*.jpg")) + sorted((backlog.root / "inbox").rglob("*")):
        if path.is_file():
            read += len(path.read_bytes())
    return read


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
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="run the contenders N times in turn (round k: floor, then the others in the order "
                             "given, each on fresh state); each ratio to the floor is taken within its round and "
                             "the median, min and max over the rounds are reported (default 1: one round)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    names = args.only.split(",")
    for name in names:
        if name not in KNOWN.split(",") and name.split(":")[0] not in ("run", "run-cold"):
            raise SystemExit(f"unknown contender {name!r}; known: {KNOWN}")
    RUN_SETTINGS.update(settings_env(args.set))
    globals()["SAMPLE_EVERY"] = args.sample_every
    root = REPO / "var" / "bench" / f"backlog-{args.pages}-s{args.seed}"
    make_backlog(root, args.pages, args.seed, jobs=2)
    index = json.loads((root / "backlog.json").read_text(encoding="utf-8"))
    backlog = Backlog(root, index["documents"])
    results_dir = root / "results"
    print(f"{root}: {len(backlog.documents)} dossiers, {backlog.pages} pages; load {os.getloadavg()}", flush=True)
    if args.repeat > 1:
        print(f"{args.repeat} rounds; the set read once first ({read_set(backlog) / 1e6:.0f} MB)", flush=True)

    def done(k: int, found: list[Outcome]) -> None:
        for outcome in found:
            line = asdict(outcome) if args.repeat == 1 else {"round": k, **asdict(outcome)}
            print(json.dumps(line, ensure_ascii=False), flush=True)

    def ended(k: int, outcomes: list[Outcome]) -> None:
        if args.repeat > 1:
            print(f"round {k} of {args.repeat}:\n{print_table(outcomes)}", flush=True)

    rounds = in_rounds(names, args.repeat, lambda name: measure_contender(name, backlog, results_dir), done, ended)
    if args.repeat == 1:
        print(print_table(rounds[0]))
        report: object = [asdict(o) for o in rounds[0]]
    else:
        overall = summarize(rounds)
        print(print_summary(overall, args.repeat))
        report = {"repeat": args.repeat, "order": [o.contender for o in rounds[0]],
                  "rounds": [[asdict(o) for o in outcomes] for outcomes in rounds], "summary": overall}
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
