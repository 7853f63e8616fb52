"""``digitize sign``, ``digitize renew`` and ``digitize verify``: PAdES signatures from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from digitize.errors import ConfigError, ExitCode
from digitize.models import PADES_LEVELS
from digitize.settings import Settings

LEVEL_CHOICES = (*PADES_LEVELS, "auto")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sign", help="sign a PDF/A (PAdES, Decree 30/2020 visible signature)")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="the signed file (never the input)")
    p.add_argument("--level", choices=LEVEL_CHOICES, help="PAdES level (default: signing.pades_level)")
    p.set_defaults(func=cmd_sign)

    p = sub.add_parser("renew", help="add a fresh archive timestamp to a PAdES B-LTA file")
    p.add_argument("input", type=Path)
    p.add_argument("-o", "--output", type=Path, required=True, help="the renewed file (never the input)")
    p.set_defaults(func=cmd_renew)

    p = sub.add_parser("verify", help="verify signed PDFs: integrity, signature, trust, changes after signing")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.add_argument("--min-level", choices=PADES_LEVELS, default="B-B",
                   help="the PAdES level a file must reach (default B-B; the level the catalog or "
                        "manifest records for the file when higher)")
    p.set_defaults(func=cmd_verify)


def cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    from signing.session import open_signing_session

    signing = settings.signing
    if args.level:
        if args.level not in ("B-B", "auto") and not signing.tsa_url:
            raise ConfigError(f"PAdES level {args.level} needs a timestamp authority: set signing.tsa_url")
        signing = dataclasses.replace(signing, pades_level=args.level)
    with open_signing_session(signing, font_cache_dir=settings.paths.font_cache) as session:
        print(session.note)
        result = session.sign(args.input, args.output)
    print(f"{result.path}: PAdES {result.pades_level}, signed {result.signing_time.isoformat()}, "
          f"SHA-256 {result.sha256}")
    return 0


def cmd_renew(args: argparse.Namespace, settings: Settings) -> int:
    from signing.renew import renew_timestamp

    result = renew_timestamp(args.input, args.output, settings.signing)
    print(f"{result.path}: {result.document_timestamps} archive timestamps, SHA-256 {result.sha256}")
    return 0


def cmd_verify(args: argparse.Namespace, settings: Settings) -> int:
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
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2, default=str))
    else:
        for report in reports:
            print(f"{report.path}: {'VALID' if report.ok else _headline(report)}")
            for check in report.checks:
                print(f"  [{_mark(check)}] {check.name}: {check.detail}")
    return _exit_code(reports)


def _exit_code(reports) -> int:
    """0 when every file is valid; 10 when any is invalid; 16 when the rest are indeterminate (data missing now)."""
    if all(r.ok for r in reports):
        return 0
    if any(r.outcome == "invalid" for r in reports):
        return int(ExitCode.verification)
    return int(ExitCode.indeterminate)


def _headline(report) -> str:
    return "INDETERMINATE" if report.outcome == "indeterminate" else "NOT VALID"


def _mark(check) -> str:
    if check.ok:
        return "ok  "
    return "????" if getattr(check, "indeterminate", False) else "FAIL"


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
                return _Record(row.document_code, row.pades_level, row.output_sha256, "the catalog")
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
        found = catalog.query("SELECT document_code FROM documents WHERE output_sha256 = ?", (actual,))
        if found:
            row = catalog.find_document(found[0][0])
            return _Record(row.document_code, row.pades_level, row.output_sha256, "the catalog")
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
    return _Record(str(data["document_code"]), data.get("pades_level"), None, f"its manifest {manifest.name}")


def _with_record_checks(report, record: _Record | None, path: Path):
    """Say where a required level came from, and add the ``archive_sha256`` check when the SHA-256 is recorded."""
    from signing.verify import sha256_check

    if record is None:
        return report
    checks = list(report.checks)
    for i, check in enumerate(checks):
        if check.name == "pades_level" and not check.ok and record.pades_level and "required" in check.detail:
            checks[i] = dataclasses.replace(check, detail=f"{check.detail}: {record.source} records "
                                                          f"{record.pades_level} for {record.document_code}")
    if record.sha256 and path.is_file():
        checks.append(sha256_check(path.read_bytes(), record.sha256,
                                   source=f"as recorded for {record.document_code}"))
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
        check = Check(IDENTITY, False, f"filed as {expected}, but {manifest.source} names {manifest.document_code}")
    return dataclasses.replace(report, checks=(*report.checks, check))
