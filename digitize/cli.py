"""The ``digitize`` command: the edge where settings are read and errors become exit codes.

Sub-commands import the packages they need when they run, so ``digitize
doctor`` works (and says what is missing) even when a heavy dependency is
broken, and Prefect is imported only by ``run``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from digitize import __version__
from digitize.errors import BadInputError, BatchError, ConfigError, DigitizeError, ExitCode, exit_code_for
from digitize.settings import Settings, load_settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        return int(args.func(args, settings) or 0)
    except DigitizeError as e:
        print(f"digitize: error: {e}", file=sys.stderr)
        return exit_code_for(e)
    except KeyboardInterrupt as e:
        print("digitize: interrupted", file=sys.stderr)
        return exit_code_for(e)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitize",
        description="Scanned dossiers to signed, searchable PDF/A, archived and counted.",
    )
    parser.add_argument("--version", action="version", version=f"digitize {__version__}")
    parser.add_argument("--config", type=Path, help="settings file (default: ./digitize.toml or $DIGITIZE_CONFIG)")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("doctor", help="check Tesseract, poppler, the signing key, the archive and the catalog")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("run", help="digitize what is ready in the scanner folders (a Prefect flow)")
    p.add_argument("--level", help="only this level (tinh, huyen, xa); default: every level")
    p.add_argument("--office", help="only this office code")
    p.add_argument("--inbox", type=Path, help="scanner folder root (default: paths.inbox)")
    p.add_argument("--limit", type=int, help="at most this many items")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("ocr", help="one dossier to a searchable PDF/A, without signing")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="PDF, TIFF, JPEG, PNG or a folder of them")
    p.add_argument("-o", "--output", type=Path, required=True, help="the PDF/A to write")
    p.add_argument("--lang", help="Tesseract languages, e.g. vie or vie+eng (default: ocr.languages)")
    p.add_argument("--metadata", type=Path, help="JSON with dossier_code, kind, number, level, office, ...")
    p.set_defaults(func=cmd_ocr)

    p = sub.add_parser("check", help="check that a file is PDF/A-2b")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("verify", help="verify signed PDFs: integrity, signature, trust, changes after signing")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.set_defaults(func=cmd_verify)
    return parser


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.doctor import run_checks

    checks = run_checks(settings)
    for check in checks:
        mark = "ok  " if check.ok else "FAIL"
        print(f"[{mark}] {check.name}: {check.detail}")
        if not check.ok and check.fix:
            print(f"       fix: {check.fix}")
    failed = [c for c in checks if not c.ok]
    if failed:
        print(f"{len(failed)} problem(s) found (settings from {settings.source})", file=sys.stderr)
        return int(failed[0].exit_code)
    return 0


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    if args.level and args.level not in settings.intake.levels:
        raise ConfigError(
            f"unknown level {args.level!r}; configured levels: {', '.join(settings.intake.levels)}"
        )
    _quiet_prefect_defaults()
    from flows.dossier import process_inbox

    config = str(args.config) if args.config else None
    results = process_inbox(
        level=args.level, office=args.office, inbox=str(args.inbox) if args.inbox else None,
        limit=args.limit, config=config,
    )
    summary_path = write_summary(results, settings)
    print_summary(results)
    print()
    print(f"Signed PDFs: {settings.archive.root}")
    print(f"Catalog:     {settings.catalog.path}")
    print(f"Summary:     {summary_path}")
    failed = [r for r in results if r["status"] in ("failed", "retry-later")]
    if failed:
        raise BatchError(f"{len(failed)} of {len(results)} item(s) failed; see {settings.paths.failed}")
    return 0


def _quiet_prefect_defaults() -> None:
    """Prefect settings for a machine with no internet; the user's own values win."""
    os.environ.setdefault("DO_NOT_TRACK", "1")
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def write_summary(results: list[dict], settings: Settings) -> Path:
    reports = settings.paths.var_dir / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    path = reports / f"run-{datetime.now().strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str) + "\n", encoding="utf-8")
    return path


def print_summary(results: list[dict]) -> None:
    header = ("document", "level", "office", "status", "pages", "conf", "archive key / reason")
    rows = [
        (
            r["document"], r["level"], r["office"], r["status"],
            "" if r.get("pages") is None else str(r["pages"]),
            "" if r.get("confidence") is None else f"{r['confidence']:.1f}",
            r.get("key") or r.get("reason") or "",
        )
        for r in results
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    widths[-1] = min(widths[-1], 90)
    for row in (header, *rows):
        print("  ".join(str(cell)[:w].ljust(w) for cell, w in zip(row, widths)).rstrip())
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    pages = sum(r.get("pages") or 0 for r in results if r["status"] == "archived")
    print(", ".join(f"{n} {status}" for status, n in sorted(counts.items())) + f"; {pages} page(s) digitized")


def cmd_ocr(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses
    import shutil
    import tempfile

    from digitize.engine import scan_to_pdfa

    ocr_settings = settings.ocr if not args.lang else dataclasses.replace(settings.ocr, languages=args.lang)
    meta = _metadata(args.metadata, args.output)
    with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as tmp:
        result = scan_to_pdfa(args.inputs, meta, Path(tmp), ocr_settings, default_dpi=settings.intake.default_dpi)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        partial = args.output.with_name(args.output.name + ".part")
        shutil.copyfile(result.pdf, partial)
        partial.replace(args.output)
    for page in result.pages:
        notes = [f"rotated {page.rotation}" if page.rotation else "", f"deskewed {page.skew:+.2f}°" if page.skew else "",
                 "blank" if page.blank else "", "below 200 dpi (Decree 30)" if not page.meets_decree30 else "",
                 f"dpi from {page.dpi_from}" if page.dpi_from != "file" else ""]
        print(f"page {page.number}: {page.dpi:g} dpi, confidence {page.confidence:.1f}, {page.words} words "
              + " ".join(n for n in notes if n))
    review = result.review_pages(settings.ocr.min_confidence)
    if review:
        print(f"pages for human review (confidence < {settings.ocr.min_confidence:g}): {review}")
    print(f"wrote {args.output} ({result.page_count} pages, PDF/A-2b)")
    return 0


def _metadata(path: Path | None, output: Path):  # noqa: ANN202
    from digitize.models import DocumentMeta, parse_document_code

    data: dict = {}
    if path is not None:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise BadInputError(f"--metadata {path}: {e}") from e
    if "dossier_code" not in data:
        try:
            code, kind, number = parse_document_code(output.stem)
        except DigitizeError:
            code, kind, number = "UNNAMED", "HS", 1
        data = {"dossier_code": code, "kind": kind, "number": number, **data}
    data.setdefault("kind", "HS")
    data.setdefault("number", 1)
    data.setdefault("level", "xa")
    data.setdefault("office", "unknown")
    return DocumentMeta(**data)


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.pdfa import check_pdfa

    report = check_pdfa(args.file)
    if report.passed:
        print(f"{args.file}: PDF/A-{report.flavour} passed")
        return 0
    print(f"{args.file}: not PDF/A-{report.flavour}")
    for finding in report.findings:
        print(f"  - {finding}")
    return int(ExitCode.pdfa)


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    from signing.identity import resolve_identity
    from signing.verify import verify_pdf

    roots = resolve_identity(settings.signing).trust_roots
    reports = [verify_pdf(path, roots) for path in args.files]
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2, default=str))
    else:
        for report in reports:
            print(f"{report.path}: {'VALID' if report.ok else 'NOT VALID'}")
            for check in report.checks:
                print(f"  [{'ok  ' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    return 0 if all(r.ok for r in reports) else int(ExitCode.verification)
