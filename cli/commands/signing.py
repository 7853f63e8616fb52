"""``digitize sign``, ``digitize renew`` and ``digitize verify``: PAdES signatures from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from digitize import i18n
from digitize.errors import ConfigError, ExitCode, PdfaError
from digitize.i18n import N_, _, format_datetime, ngettext
from digitize.models import PADES_LEVELS
from digitize.settings import Settings

LEVEL_CHOICES = (*PADES_LEVELS, "auto")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help=_("sign a PDF/A (PAdES, Decree 30/2020 visible signature)"))
    p.add_argument("input", type=Path, help=_("the PDF/A to sign"))
    p.add_argument("-o", "--output", type=Path, required=True, help=_("the signed file (never the input)"))
    p.add_argument("--level", choices=LEVEL_CHOICES, help=_("PAdES level (default: signing.pades_level)"))
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("renew", help=_("add a fresh archive timestamp to a PAdES B-LTA file"))
    p.add_argument("input", type=Path, help=_("the signed PAdES B-LTA file"))
    p.add_argument("-o", "--output", type=Path, required=True, help=_("the renewed file (never the input)"))
    p.set_defaults(func=cmd_renew)

    p = sub.add_parser("verify", help=_("verify signed PDFs: integrity, signature, trust, changes after signing"))
    p.add_argument("files", nargs="+", type=Path, help=_("the signed PDFs to verify"))
    p.add_argument("--json", action="store_true", help=_("print the reports as JSON (in English, for programs)"))
    p.add_argument("--min-level", choices=PADES_LEVELS, default="B-B",
                   help=_("the PAdES level a file must reach (default B-B; the level the catalog or "
                          "manifest records for the file when higher)"))
    p.set_defaults(func=cmd_verify)


def cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    from signing.session import open_signing_session

    signing = settings.signing
    if args.level:
        if args.level not in ("B-B", "auto") and not signing.tsa_url:
            raise ConfigError(_("PAdES level {level} needs a timestamp authority: set signing.tsa_url",
                                level=args.level))
        signing = dataclasses.replace(signing, pades_level=args.level)
    require_pdfa(args.input)
    with open_signing_session(signing, font_cache_dir=settings.paths.font_cache) as session:
        print(session.note)
        result = session.sign(args.input, args.output)
    print(_("{path}: PAdES {level}, signed {time}, SHA-256 {sha256}", path=result.path, level=result.pades_level,
            time=format_datetime(result.signing_time, seconds=True), sha256=result.sha256))
    return 0


def require_pdfa(path: Path) -> None:
    """Refuse to sign ``path`` unless it is PDF/A-2b (:class:`PdfaError`, exit 15).

    A signed file can never be made PDF/A afterwards (any change breaks the signature), so
    a PDF that breaks a PDF/A rule is refused before the key is opened. An unreadable, encrypted
    or already signed file is refused as signing refuses it (exit 4, 6, 7).
    """
    from digitize.pdfa import FLAVOUR, check_pdfa
    from signing.sign import check_signable

    # Constructs pikepdf.pdfa does not check (an already signed file's AcroForm among them) break no rule
    # it knows; verify's pdfa check takes them as it does.
    violations = [f for f in check_pdfa(path).findings if f.startswith("[violation]")]
    if not violations:
        return
    check_signable(path)
    pdfa = path.with_name(f"{path.stem}-pdfa.pdf")
    raise PdfaError(
        _("{name} is not PDF/A-{flavour} ({finding}); a signed file can never be made PDF/A afterwards, so it "
          "is not signed", name=path, flavour=FLAVOUR, finding=violations[0]),
        hint=_("make it a PDF/A first with 'digitize ocr {name} -o {pdfa}' (add --skip-text when its pages "
               "already carry text), then sign {pdfa}; 'digitize check {name}' names every broken rule",
               name=path, pdfa=pdfa),
    )


def cmd_renew(args: argparse.Namespace, settings: Settings) -> int:
    from signing.renew import renew_timestamp

    result = renew_timestamp(args.input, args.output, settings.signing)
    print(ngettext("{path}: {n} archive timestamp, SHA-256 {sha256}",
                   "{path}: {n} archive timestamps, SHA-256 {sha256}",
                   result.document_timestamps, path=result.path, n=result.document_timestamps, sha256=result.sha256))
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
    if args.json:  # a stable interface for programs: the checks' details in English, whatever ui.language
        with i18n.using("en"):
            reports = _verify_all(args, settings)
        print(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2, default=str))
    else:
        reports = _verify_all(args, settings)
        for report in reports:
            print(f"{report.path}: {_headline(report)}")
            for check in report.checks:
                print(f"  [{_mark(check)}] {check_label(check.name)}: {check.detail}")
    return _exit_code(reports)


def _verify_all(args: argparse.Namespace, settings: Settings) -> list:
    """The verification report of each file named, with the checks against what the archive recorded."""
    from signing.identity import resolve_identity
    from signing.renew import parse_sunsets
    from signing.verify import stricter_level, verify_pdf

    signing = settings.signing
    roots = resolve_identity(signing).trust_roots
    reports = []
    for path in args.files:
        record = _record_of(path, settings)
        expected = record.pades_level if record is not None else None
        report = verify_pdf(
            path,
            roots,
            min_pades_level=stricter_level(args.min_level, expected),
            fetch_revocation=signing.fetch_revocation,
            revocation_mode=signing.revocation_mode,
            fetch_timeout=signing.tsa_timeout_seconds,
            algorithm_sunsets=parse_sunsets(signing.algorithm_sunsets),
            agency_name=signing.agency_name if signing.agency_name_override else None,  # else: the signer's
        )
        reports.append(_with_identity_check(_with_record_checks(report, record, path), record, path))
    return reports


def _exit_code(reports) -> int:
    """0 when every file is valid; 10 when any is invalid; 16 when the rest are indeterminate (data missing now)."""
    if all(r.ok for r in reports):
        return 0
    if any(r.outcome == "invalid" for r in reports):
        return int(ExitCode.verification)
    return int(ExitCode.indeterminate)


#: The outcome of a file's verification as a person reads it (``--json`` keeps ``valid``...).
OUTCOMES = {"valid": N_("VALID"), "invalid": N_("NOT VALID"), "indeterminate": N_("INDETERMINATE")}
#: The checks' names (``--json`` keeps them) as a person reads them.
CHECK_LABELS = {
    "signed": N_("signed"), "integrity": N_("integrity"), "cryptography": N_("cryptography"),
    "trust": N_("trust"), "revocation": N_("revocation"), "timestamps": N_("timestamps"),
    "pades_level": N_("PAdES level"), "modifications": N_("modifications"), "coverage": N_("coverage"),
    "renewal": N_("renewal"), "archive_sha256": N_("archive SHA-256"), "identity": N_("identity"),
    "stamp": N_("visible signature"), "stamp_clear": N_("visible signature clear of the text"),
    "pdfa": N_("PDF/A"),
}


def check_label(name: str) -> str:
    """A check's name (``integrity``, ``pades_level``...) in the reader's language."""
    return _(CHECK_LABELS[name]) if name in CHECK_LABELS else name


def _headline(report) -> str:
    return _(OUTCOMES[report.outcome])


def _mark(check) -> str:
    """``ok``, ``FAIL`` or ``????`` (open for want of data), padded to one width so the names line up."""
    from rich.cells import cell_len

    marks = (_("ok"), _("FAIL"), "????")
    mark = marks[0] if check.ok else marks[2] if getattr(check, "indeterminate", False) else marks[1]
    return mark + " " * (max(cell_len(m) for m in marks) - cell_len(mark))


@dataclasses.dataclass(frozen=True)
class _Record:
    """What the archive recorded for a file: its document, PAdES level and SHA-256, and where that was read."""

    document_code: str
    pades_level: str | None
    sha256: str | None
    source: str


def _record_of(path: Path, settings: Settings) -> _Record | None:
    """The catalog's row for ``path`` (by XMP dc:identifier, file name or SHA-256), else the manifest beside it."""
    if not path.is_file():
        return None
    return _catalog_record(path, settings) or _manifest_record(path)


def _catalog_record(path: Path, settings: Settings) -> _Record | None:
    catalog_path = settings.catalog.path
    if not settings.catalog.url and (catalog_path is None or not catalog_path.is_file()):
        return None
    import hashlib

    from storage.catalog import open_catalog

    with open_catalog(settings.catalog) as catalog:
        for code in _document_codes(path):
            row = catalog.find_document(code)
            if row is not None:
                return _Record(row.document_code, row.pades_level, row.output_sha256, _("the catalog"))
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        found = catalog.query("SELECT document_code FROM documents WHERE output_sha256 = ?", (actual,))
        if found:
            row = catalog.find_document(found[0][0])
            return _Record(row.document_code, row.pades_level, row.output_sha256, _("the catalog"))
    return None


def _document_codes(path: Path) -> list[str]:
    """The document code the file names in its XMP (dc:identifier), then the one its name gives."""
    import pikepdf

    from digitize.pdfa import read_dossier_metadata
    from storage.keys import document_stem

    codes = []
    try:
        identifier = read_dossier_metadata(path).get("dc:identifier", "")
    except (pikepdf.PdfError, OSError, ValueError):
        identifier = ""
    if identifier:
        codes.append(identifier)
    stem = document_stem(path.name)
    if stem not in codes:
        codes.append(stem)
    return codes


def _manifest_record(path: Path) -> _Record | None:
    from storage.keys import manifest_key_of

    manifest = path.with_name(manifest_key_of(path.name))
    if not manifest.is_file():
        return None
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or not data.get("document_code"):
        return None
    return _Record(str(data["document_code"]), data.get("pades_level"), None,
                   _("its manifest {name}", name=manifest.name))


def _with_record_checks(report, record: _Record | None, path: Path):
    """Say where a required level came from, and add the ``archive_sha256`` check when the SHA-256 is recorded."""
    from signing.verify import sha256_check

    if record is None:
        return report
    checks = list(report.checks)
    for i, check in enumerate(checks):
        if check.name == "pades_level" and not check.ok and record.pades_level:
            checks[i] = dataclasses.replace(check, detail=_("{detail}: {source} records {level} for {document}",
                                                            detail=check.detail, source=record.source,
                                                            level=record.pades_level,
                                                            document=record.document_code))
    if record.sha256 and path.is_file():
        checks.append(sha256_check(path.read_bytes(), record.sha256,
                                   source=_("as recorded for {document}", document=record.document_code)))
    return dataclasses.replace(report, checks=tuple(checks))


def _with_identity_check(report, record: _Record | None, path: Path):
    """Add the ``identity`` check when the file states a document code and is known as a document: by
    its archive name (``<document code>.pdf``), its catalog row or its manifest. The code the file states
    (XMP, Info) and the code its manifest names must both be that one. (A file that states no code is
    no archived document of this pipeline: nothing to compare.)"""
    from digitize.errors import BadInputError
    from digitize.models import parse_document_code
    from signing.document_check import IDENTITY, identity_check, stated_codes
    from signing.report import Check
    from storage.keys import document_stem

    stem = document_stem(path.name)
    try:
        parse_document_code(stem)
        expected = stem
    except BadInputError:
        expected = record.document_code if record is not None else None
    stated = stated_codes(path) if expected is not None and path.is_file() else {}
    if not stated:
        return report
    check = identity_check(stated, expected)
    manifest = _manifest_record(path)
    if check.ok and manifest is not None and manifest.document_code != expected:
        check = Check(IDENTITY, False, _("filed as {expected}, but {source} names {document}", expected=expected,
                                         source=manifest.source, document=manifest.document_code))
    return dataclasses.replace(report, checks=(*report.checks, check))
