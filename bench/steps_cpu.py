"""CPU per document of the pipeline's steps after the scan: reserve, sign, verify, archive, record.

Runs :func:`pipeline.reserve`, ``sign``, ``verify``, ``archive`` and ``record`` on the
embedded defaults (demo key, B-B, local archive, SQLite catalog) over the scanned PDF/As
of the backlog set (``var/bench/backlog-<pages>-s<seed>/results/ocr``, written by
``bench/backlog_bench.py --only ocr``), and reports the CPU seconds of each step per
document: this process's and its children's (``getrusage``), so a ``pdftoppm`` counts.
Unlike ``backlog_bench.py --only steps`` (wall time), the scan summary carries the
PDF/A's SHA-256 as a real run's does, so verify takes the same path (the PDF/A
validated at assembly is not validated again); ``--full-pdfa`` validates it in full.
The first document is a warm-up (fonts, imports) and is not counted.

    .venv/bin/python bench/steps_cpu.py [--documents N] [--full-pdfa] [--profile out.prof]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO))

from backlog_bench import STEP_NAMES, step_inputs, through_steps  # noqa: E402


def cpu_seconds() -> float:
    """User + system CPU of this process and its finished children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--documents", type=int, default=0, help="at most this many documents (0: all)")
    parser.add_argument("--full-pdfa", action="store_true", help="verify validates the PDF/A in full")
    parser.add_argument("--profile", type=Path, help="write a cProfile of the counted steps here")
    args = parser.parse_args()

    from digitize.settings import load_settings
    from signing.session import open_signing_session
    from storage.archive import open_archive
    from storage.catalog import open_catalog

    root = REPO / "var" / "bench" / f"backlog-{args.pages}-s{args.seed}"
    documents = json.loads((root / "backlog.json").read_text(encoding="utf-8"))["documents"]
    documents = documents[:args.documents] if args.documents else documents
    scanned_dir = root / "results" / "ocr"
    missing = [d["document"] for d in documents if not (scanned_dir / f"{d['document']}.pdf").is_file()]
    if missing:
        print(f"no scanned PDF/A for {len(missing)} documents in {scanned_dir}: run bench/backlog_bench.py "
              "--only ocr first", file=sys.stderr)
        return 2
    run = Path(tempfile.mkdtemp(prefix="steps-cpu-"))
    os.chdir(run)
    (run / "digitize.toml").write_text("", encoding="utf-8")
    settings = load_settings(run / "digitize.toml", environ={})
    session = open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache)
    store = open_archive(settings.archive)
    profile = cProfile.Profile() if args.profile else None
    per_step: dict[str, list[float]] = {name: [] for name in STEP_NAMES}
    try:
        with session, open_catalog(settings.catalog) as catalog:
            for index, document in enumerate(documents):
                meta, input_sha, work, scanned = step_inputs(document, scanned_dir, settings.paths.work,
                                                             assembled=not args.full_pdfa)
                counted = index > 0
                if profile is not None and counted:
                    profile.enable()
                marks = through_steps(catalog, session, store, meta, input_sha, work, scanned, cpu_seconds)
                if profile is not None and counted:
                    profile.disable()
                if counted:
                    for name, before, after in zip(STEP_NAMES, marks[:-1], marks[1:], strict=True):
                        per_step[name].append(after - before)
    finally:
        shutil.rmtree(run, ignore_errors=True)
    totals = [sum(values) for values in zip(*per_step.values(), strict=True)]
    print(f"{len(totals)} documents (after one warm-up), {'full' if args.full_pdfa else 'assembly'} PDF/A path; "
          f"CPU ms per document, median / mean")
    for name, values in (*per_step.items(), ("total", totals)):
        print(f"  {name:8s} {statistics.median(values) * 1000:7.1f} / {statistics.mean(values) * 1000:7.1f}")
    if profile is not None:
        profile.dump_stats(args.profile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
