"""``digitize ocr`` and ``digitize check``: the scan engine without signing."""

from __future__ import annotations

import argparse
import errno
import os
from pathlib import Path

from cli.commands import whole_number
from digitize.errors import BadInputError, DigitizeError, ExitCode, StorageFullError, UsageError
from digitize.i18n import _, format_number, os_error
from digitize.models import DocumentMeta
from digitize.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ocr", help=_("one dossier to a searchable PDF/A, without signing"))
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help=_("PDF, TIFF, JPEG, PNG or a folder of them"))
    p.add_argument("-o", "--output", type=Path, required=True, help=_("the PDF/A to write"))
    p.add_argument("--lang", help=_("Tesseract languages, e.g. vie or vie+eng (default: ocr.languages)"))
    p.add_argument("--metadata", type=Path, help=_("JSON with dossier_code, kind, number, level, office, ..."))
    text = p.add_mutually_exclusive_group()
    text.add_argument("--redo-ocr", dest="existing_text", action="store_const", const="redo",
                      help=_("OCR again pages that already have text (default: ocr.existing_text)"))
    text.add_argument("--skip-text", dest="existing_text", action="store_const", const="skip",
                      help=_("keep pages that already have text as they are"))
    p.add_argument("--keep-signed-original", dest="signed_input", action="store_const", const="keep-original",
                   help=_("digitize a signed PDF and keep the signed original beside OUT.pdf (default: refuse)"))
    p.add_argument("--jobs", type=whole_number(0, 256),
                   help=_("worker processes (default: ocr.workers, 0 = one per core)"))
    p.set_defaults(func=cmd_ocr)

    p = sub.add_parser("check", help=_("check that a file is PDF/A-2b"))
    p.add_argument("file", type=Path, help=_("the PDF to check"))
    p.set_defaults(func=cmd_check)


def cmd_ocr(args: argparse.Namespace, settings: Settings) -> int:
    import dataclasses
    import shutil
    import tempfile

    from digitize.engine import keep_signed_originals, scan_to_pdfa
    from digitize.files import written_whole

    overrides = {"languages": args.lang, "existing_text": args.existing_text,
                 "signed_input": args.signed_input, "workers": args.jobs}
    ocr_settings = dataclasses.replace(settings.ocr, **{k: v for k, v in overrides.items() if v is not None})
    meta = _metadata(args.metadata, args.output)
    check_output(args.output, args.inputs)
    with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as tmp:
        result = scan_to_pdfa(args.inputs, meta, Path(tmp), ocr_settings, default_dpi=settings.intake.default_dpi,
                              max_pages=settings.intake.max_pages)
        try:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            with written_whole(args.output) as partial:
                shutil.copyfile(result.pdf, partial)
        except OSError as e:
            raise _unwritable(args.output, e) from e
    for original in keep_signed_originals(result, args.output):
        print(_("kept the signed original untouched: {path}", path=original))
    for page in result.pages:
        dpi = format(page.dpi, "g")
        print(_("page {number}: {dpi} dpi, confidence {confidence}, {words} words",
                number=page.number, dpi=dpi, confidence=format_number(page.confidence, 1), words=page.words),
              *page_notes(page))
    if result.dropped_blank_pages:
        print(_("blank pages dropped: {pages}", pages=", ".join(str(n) for n in result.dropped_blank_pages)))
    review = result.review_pages(settings.ocr.min_confidence)
    if review:
        print(_("pages for human review (confidence < {minimum}): {pages}",
                minimum=format_number(settings.ocr.min_confidence, 1), pages=", ".join(str(n) for n in review)))
    print(_("wrote {output} ({pages} pages, PDF/A-2b)", output=args.output, pages=result.page_count))
    return 0


def page_notes(page) -> list[str]:
    """What ``ocr`` says of a page beyond its numbers: rotated, deskewed, blank, below 200 dpi, grey..."""
    notes = [_("rotated {degrees}", degrees=page.rotation) if page.rotation else "",
             _("deskewed {degrees}°", degrees=("+" if page.skew > 0 else "-") + format_number(abs(page.skew), 2))
             if page.skew else "",
             _("blank") if page.blank else "",
             _("below 200 dpi (Decree 30)") if not page.meets_decree30 else "",
             _("dpi from {source}", source=page.dpi_from) if page.dpi_from != "file" else "",
             _("kept as it is (has text)") if page.kept_as_is else "",
             _("grey, no colour (Decree 30 asks for colour)") if page.grey and not page.blank else ""]
    return [note for note in notes if note]


def check_output(output: Path, inputs: list[Path]) -> None:
    """Refuse, before any page is read, an output that is one of the inputs or inside an input folder
    (the scan would be replaced by its copy) or that cannot be written (exit 2)."""
    target = output.resolve()
    for source in inputs:
        source = source.resolve()
        if target == source or source in target.parents:
            raise UsageError(_("-o {output} would overwrite the input {name}; write the PDF/A elsewhere",
                               output=output, name=source.name))
    folder = next((p for p in target.parents if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK) \
            or (target.parent.exists() and not os.access(target.parent, os.W_OK | os.X_OK)):
        raise UsageError(_("-o {output}: cannot write in {folder}; choose a folder you may write to",
                           output=output, folder=target.parent))
    if target.is_dir():
        raise UsageError(_("-o {output} is a folder; name the PDF/A file to write", output=output))


def _unwritable(output: Path, error: OSError) -> DigitizeError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(_("no space left to write {output}", output=output),
                                hint=_("free space on that disk and run again"))
    return UsageError(_("cannot write -o {output}: {error}", output=output, error=os_error(error)))


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
        raise BadInputError(_("--metadata {path}: {error}", path=path, error=e.message) if path else e.message) from e


def cmd_check(args: argparse.Namespace, settings: Settings) -> int:
    from digitize.pdfa import check_pdfa

    report = check_pdfa(args.file)
    if report.passed:
        print(_("{file}: PDF/A-{flavour} passed", file=args.file, flavour=report.flavour))
        return 0
    print(_("{file}: not PDF/A-{flavour}", file=args.file, flavour=report.flavour))
    for finding in report.findings:
        print(f"  - {finding}")
    return int(ExitCode.pdfa)
