"""``digitize ocr`` and ``digitize check``: the scan engine without signing."""

from __future__ import annotations

import argparse
from pathlib import Path

from digitize.commands import whole_number
from digitize.errors import BadInputError, DigitizeError, ExitCode
from digitize.models import DocumentMeta
from digitize.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ocr", help="one dossier to a searchable PDF/A, without signing")
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT", help="PDF, TIFF, JPEG, PNG or a folder of them")
    p.add_argument("-o", "--output", type=Path, required=True, help="the PDF/A to write")
    p.add_argument("--lang", help="Tesseract languages, e.g. vie or vie+eng (default: ocr.languages)")
    p.add_argument("--metadata", type=Path, help="JSON with dossier_code, kind, number, level, office, ...")
    text = p.add_mutually_exclusive_group()
    text.add_argument("--redo-ocr", dest="existing_text", action="store_const", const="redo",
                      help="OCR again pages that already have text (default: ocr.existing_text)")
    text.add_argument("--skip-text", dest="existing_text", action="store_const", const="skip",
                      help="keep pages that already have text as they are")
    p.add_argument("--keep-signed-original", dest="signed_input", action="store_const", const="keep-original",
                   help="digitize a signed PDF and keep the signed original beside OUT.pdf (default: refuse)")
    p.add_argument("--jobs", type=whole_number(0, 256), help="worker processes (default: ocr.workers, 0 = one per core)")
    p.set_defaults(func=cmd_ocr)

    p = sub.add_parser("check", help="check that a file is PDF/A-2b")
    p.add_argument("file", type=Path)
    p.set_defaults(func=cmd_check)


def cmd_ocr(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses
    import shutil
    import tempfile

    from digitize.engine import keep_signed_originals, scan_to_pdfa

    overrides = {"languages": args.lang, "existing_text": args.existing_text,
                 "signed_input": args.signed_input, "workers": args.jobs}
    ocr_settings = dataclasses.replace(settings.ocr, **{k: v for k, v in overrides.items() if v is not None})
    meta = _metadata(args.metadata, args.output)
    with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as tmp:
        result = scan_to_pdfa(args.inputs, meta, Path(tmp), ocr_settings, default_dpi=settings.intake.default_dpi,
                              max_pages=settings.intake.max_pages)
        args.output.parent.mkdir(parents=True, exist_ok=True)
        partial = args.output.with_name(args.output.name + ".part")
        shutil.copyfile(result.pdf, partial)
        partial.replace(args.output)
    for original in keep_signed_originals(result, args.output):
        print(f"kept the signed original untouched: {original}")
    for page in result.pages:
        notes = [f"rotated {page.rotation}" if page.rotation else "", f"deskewed {page.skew:+.2f}°" if page.skew else "",
                 "blank" if page.blank else "", "below 200 dpi (Decree 30)" if not page.meets_decree30 else "",
                 f"dpi from {page.dpi_from}" if page.dpi_from != "file" else "",
                 "kept as it is (has text)" if page.kept_as_is else "",
                 "grey, no colour (Decree 30 asks for colour)" if page.grey and not page.blank else ""]
        print(f"page {page.number}: {page.dpi:g} dpi, confidence {page.confidence:.1f}, {page.words} words "
              + " ".join(n for n in notes if n))
    if result.dropped_blank_pages:
        print(f"blank pages dropped: {list(result.dropped_blank_pages)}")
    review = result.review_pages(settings.ocr.min_confidence)
    if review:
        print(f"pages for human review (confidence < {settings.ocr.min_confidence:g}): {review}")
    print(f"wrote {args.output} ({result.page_count} pages, PDF/A-2b)")
    return 0


def _metadata(path: Path | None, output: Path) -> DocumentMeta:
    """The document's metadata from ``--metadata FILE.json`` (checked like a sidecar), else from OUT's name."""
    from digitize.intake import read_json_file
    from digitize.models import meta_fields, parse_document_code

    data: dict = {}
    if path is not None:
        source = f"--metadata {path}"
        data = meta_fields(read_json_file(path, source, follow_links=True), source)
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
    try:
        return DocumentMeta(**data)
    except BadInputError as e:
        raise BadInputError(f"--metadata {path}: {e.message}" if path else e.message) from e


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
