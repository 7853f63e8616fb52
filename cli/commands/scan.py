"""``digitize ocr`` and ``digitize check``: the scan engine without signing."""

from __future__ import annotations

import argparse
import errno
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cli.commands import whole_number
from digitize.errors import BadInputError, BatchError, DigitizeError, ExitCode, StorageFullError, UsageError
from digitize.i18n import _, format_number, ngettext, os_error
from digitize.models import DocumentMeta
from digitize.settings import OcrSettings, Settings

if TYPE_CHECKING:  # the engine (OpenCV) is imported only when a command reads pages
    from digitize.engine import ScanResult


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ocr", help=_("scans to searchable PDF/A, without signing: one document with -o, "
                                     "one per input with --output-dir"))
    p.add_argument("inputs", nargs="+", type=Path, metavar="INPUT",
                   help=_("PDF, TIFF, JPEG, PNG or a folder of them"))
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("-o", "--output", type=Path, help=_("the PDF/A to write, made of every INPUT in order"))
    where.add_argument("--output-dir", type=Path, metavar="DIR",
                       help=_("write each INPUT (a file, or a folder of pages) as its own PDF/A, "
                              "DIR/<input name>.pdf, every document's pages sharing the worker processes"))
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
    import tempfile

    from digitize.engine import scan_to_pdfa

    overrides = {"languages": args.lang, "existing_text": args.existing_text,
                 "signed_input": args.signed_input, "workers": args.jobs}
    ocr_settings = dataclasses.replace(settings.ocr, **{k: v for k, v in overrides.items() if v is not None})
    if args.output_dir is not None:
        return ocr_each(args.inputs, args.output_dir, args.metadata, ocr_settings, settings)
    meta = _metadata(args.metadata, args.output)
    check_output(args.output, args.inputs)
    with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as tmp:
        result = scan_to_pdfa(args.inputs, meta, Path(tmp), ocr_settings, default_dpi=settings.intake.default_dpi,
                              max_pages=settings.intake.max_pages)
        originals = write_output(result, args.output)
    for original in originals:
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


def ocr_each(inputs: list[Path], output_dir: Path, metadata: Path | None, ocr_settings: OcrSettings,
             settings: Settings) -> int:
    """``digitize ocr --output-dir DIR INPUT...``: each input its own PDF/A ``DIR/<input name>.pdf``.

    Every output is checked before any page is read (as ``-o``: none may be an input or inside an input
    folder, two inputs may not share a name, DIR must be writable: exit 2). The documents' pages share
    one pool of workers (:func:`digitize.engine.scan_each`); each document is written whole as it is
    done and reported on one line; an input that fails is reported with its reason and exit code while
    the others go on. Exit 0 when every document was written; else the failed input's own code when
    there was one input, and 13 (a batch not done whole) as ``digitize run`` gives.
    """
    import tempfile
    import time

    from cli.commands.run import few_malloc_arenas
    from digitize.engine import scan_each

    few_malloc_arenas()  # the documents in flight are threads of this process
    targets = output_names(inputs, output_dir)
    metas = [_metadata(metadata, target, each=True) for target in targets]
    check_outputs(targets, inputs, output_dir)
    outcomes: dict[int, Written | DigitizeError] = {}

    def finish(n: int, result: ScanResult) -> Written:
        return Written(result, write_output(result, targets[n], each=True))

    def done(n: int, outcome: Written | DigitizeError) -> None:
        outcomes[n] = outcome
        if len(inputs) == 1 and isinstance(outcome, DigitizeError):
            return  # said once, as the command's error
        print_outcome(inputs[n], targets[n], outcome, settings.ocr.min_confidence)

    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="digitize-ocr-") as tmp:
        scan_each(inputs, metas, Path(tmp), ocr_settings, finish, done, default_dpi=settings.intake.default_dpi,
                  max_pages=settings.intake.max_pages, in_flight=ocr_settings.documents_in_flight)
    elapsed = time.monotonic() - started
    failed = [outcome for outcome in outcomes.values() if isinstance(outcome, DigitizeError)]
    pages = sum(outcome.result.page_count for outcome in outcomes.values() if isinstance(outcome, Written))
    print(_("{written} of {total} document(s) written to {folder}: {pages} page(s) in {seconds} s "
            "({rate} pages/min)", written=len(inputs) - len(failed), total=len(inputs), folder=output_dir,
            pages=pages, seconds=format_number(elapsed, 1),
            rate=format_number(pages * 60 / elapsed if elapsed > 0 else 0.0, 1)))
    if failed and len(inputs) == 1:
        raise failed[0]
    if failed and len(failed) == len(inputs):
        raise BatchError(_("none of the {total} inputs was digitized (the reasons are above)", total=len(inputs)))
    if failed:
        raise BatchError(_("{failed} of {total} input(s) not digitized (the reasons are above); the others "
                           "were written", failed=len(failed), total=len(inputs)))
    return 0


def output_names(inputs: list[Path], output_dir: Path) -> list[Path]:
    """``output_dir/<input name>.pdf`` for each input (a file's name without its suffix, a folder's
    name); two inputs of one name (``a.pdf`` and ``a.tif``, or one input given twice) are refused (exit 2)."""
    targets: list[Path] = []
    seen: dict[str, Path] = {}
    for source in inputs:
        stem = source.resolve().name if source.is_dir() else source.stem
        if not stem or stem in (".", ".."):
            stem = source.resolve().name
        target = output_dir / (stem + ".pdf")
        if stem in seen:
            raise UsageError(_("{first} and {second} would both be written to {output}; give one of them "
                               "another name or digitize them one at a time", first=seen[stem], second=source,
                               output=target))
        seen[stem] = source
        targets.append(target)
    if output_dir.exists() and not output_dir.is_dir():
        raise UsageError(_("--output-dir {folder} is a file; name a folder to write the PDF/A files in",
                           folder=output_dir))
    return targets


@dataclass(frozen=True)
class Written:
    """A document of ``--output-dir`` written: its scan and the signed originals kept beside it."""

    result: ScanResult
    originals: list[Path]


def write_output(result: ScanResult, output: Path, *, each: bool = False) -> list[Path]:
    """The document's PDF/A to ``output``, whole (a reader never sees half of it; an existing file is
    replaced only once the new one is complete), and its signed originals beside it; returns those copies.
    ``each``: ``output`` is one of ``--output-dir``'s (a failure names the file, not ``-o``)."""
    import shutil

    from digitize.engine import keep_signed_originals
    from digitize.files import written_whole

    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        with written_whole(output) as partial:
            shutil.copyfile(result.pdf, partial)
    except OSError as e:
        raise _unwritable(output, e, each=each) from e
    return keep_signed_originals(result, output)


def print_outcome(source: Path, output: Path, outcome: Written | DigitizeError, min_confidence: float) -> None:
    """One line for a document of ``--output-dir``: its pages, confidence and the pages to look at, or why
    the input was not digitized (on standard error, with the exit code ``-o`` would have given)."""
    if isinstance(outcome, DigitizeError):
        print(_("{name}: not digitized (exit {code}): {reason}", name=source.name,
                code=int(outcome.exit_code), reason=outcome), file=sys.stderr)
        return
    result = outcome.result
    parts = [ngettext("{n} page", "{n} pages", result.page_count, n=result.page_count),
             _("confidence {confidence}", confidence=format_number(result.confidence, 1))]
    review = result.review_pages(min_confidence)
    if review:
        parts.append(_("review pages {pages}", pages=", ".join(str(n) for n in review)))
    blank = [p.number for p in result.pages if p.blank]
    if blank:
        parts.append(_("blank pages {pages}", pages=", ".join(str(n) for n in blank)))
    if result.dropped_blank_pages:
        parts.append(_("blank pages dropped: {pages}", pages=", ".join(str(n) for n in result.dropped_blank_pages)))
    if result.grey_pages:
        parts.append(_("grey pages {pages}", pages=", ".join(str(n) for n in result.grey_pages)))
    parts += [_("kept the signed original untouched: {path}", path=original) for original in outcome.originals]
    print(_("{name} -> {output}: {details}", name=source.name, output=output, details="; ".join(parts)), flush=True)


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
    problem, where = output_problem(output, inputs)
    if problem == "input":
        raise UsageError(_("-o {output} would overwrite the input {name}; write the PDF/A elsewhere",
                           output=output, name=where.name))
    if problem == "unwritable":
        raise UsageError(_("-o {output}: cannot write in {folder}; choose a folder you may write to",
                           output=output, folder=where))
    if problem == "folder":
        raise UsageError(_("-o {output} is a folder; name the PDF/A file to write", output=output))


def check_outputs(targets: list[Path], inputs: list[Path], output_dir: Path) -> None:
    """:func:`check_output` for every output of ``--output-dir``, before any page is read (exit 2)."""
    for target in targets:
        problem, where = output_problem(target, inputs)
        if problem == "input":
            raise UsageError(_("--output-dir {folder}: {output} would overwrite the input {name}; write the "
                               "PDF/A files in another folder", folder=output_dir, output=target, name=where.name))
        if problem == "unwritable":
            raise UsageError(_("--output-dir {folder}: cannot write in {where}; choose a folder you may write to",
                               folder=output_dir, where=where))
        if problem == "folder":
            raise UsageError(_("--output-dir {folder}: {output} is a folder; move it away or write the PDF/A "
                               "files in another folder", folder=output_dir, output=target))


def output_problem(output: Path, inputs: list[Path]) -> tuple[str, Path] | tuple[None, None]:
    """Why ``output`` may not be written: ``("input", the input)`` when it is one of ``inputs`` or inside
    an input folder, ``("unwritable", its folder)``, ``("folder", output)`` when it is a folder; else
    ``(None, None)``."""
    target = output.resolve()
    for source in inputs:
        source = source.resolve()
        if target == source or source in target.parents:
            return "input", source
    folder = next((p for p in target.parents if p.exists()), None)
    if folder is None or not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK) \
            or (target.parent.exists() and not os.access(target.parent, os.W_OK | os.X_OK)):
        return "unwritable", target.parent
    if target.is_dir():
        return "folder", output
    return None, None


def _unwritable(output: Path, error: OSError, *, each: bool = False) -> DigitizeError:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageFullError(_("no space left to write {output}", output=output),
                                hint=_("free space on that disk and run again"))
    if each:
        return UsageError(_("cannot write {output}: {error}", output=output, error=os_error(error)))
    return UsageError(_("cannot write -o {output}: {error}", output=output, error=os_error(error)))


def _metadata(path: Path | None, output: Path, *, each: bool = False) -> DocumentMeta:
    """The document's metadata from ``--metadata FILE.json`` (checked like a sidecar), else from OUT's name.

    ``each``: the file is for every document of ``--output-dir``, each named from its own input, so
    the fields that name one document (``dossier_code``, ``kind``, ``number``) are refused (exit 2).
    """
    from digitize.intake import read_json_file
    from digitize.models import meta_fields, parse_document_code

    data: dict = {}
    if path is not None:
        source = f"--metadata {path}"
        data = meta_fields(read_json_file(path, source, follow_links=True), source)
        naming = sorted({"dossier_code", "kind", "number"} & data.keys())
        if each and naming:
            raise UsageError(_("--metadata {path} names one document ({fields}); with --output-dir each "
                               "document is named from its input: leave those fields out",
                               path=path, fields=", ".join(naming)))
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
