"""``digitize sign``, ``digitize renew`` and ``digitize verify``: PAdES signatures from the command line."""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from digitize.errors import ConfigError, ExitCode
from digitize.settings import Settings

LEVEL_CHOICES = ("B-B", "B-T", "B-LT", "B-LTA", "auto")


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
    p.add_argument("--min-level", choices=LEVEL_CHOICES[:-1], default="B-B",
                   help="the PAdES level a file must reach (default B-B)")
    p.set_defaults(func=cmd_verify)


def cmd_sign(args: argparse.Namespace, settings: Settings) -> int:
    from signing.session import open_signing_session

    signing = settings.signing
    if args.level:
        if args.level not in ("B-B", "auto") and not signing.tsa_url:
            raise ConfigError(f"PAdES level {args.level} needs a timestamp authority: set signing.tsa_url")
        signing = dataclasses.replace(signing, pades_level=args.level)
    with open_signing_session(signing, font_cache_dir=_font_cache(settings)) as session:
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
    from signing.verify import verify_pdf

    signing = settings.signing
    roots = resolve_identity(signing).trust_roots
    reports = []
    for path in args.files:
        report = verify_pdf(
            path,
            roots,
            min_pades_level=args.min_level,
            fetch_revocation=signing.fetch_revocation,
            revocation_mode=signing.revocation_mode,
            fetch_timeout=signing.tsa_timeout_seconds,
            agency_name=signing.agency_name if signing.agency_name_override else None,  # else: the signer's
        )
        reports.append(_with_catalog_check(report, settings))
    if args.json:
        print(json.dumps([r.to_dict() for r in reports], ensure_ascii=False, indent=2, default=str))
    else:
        for report in reports:
            print(f"{report.path}: {'VALID' if report.ok else 'NOT VALID'}")
            for check in report.checks:
                print(f"  [{'ok  ' if check.ok else 'FAIL'}] {check.name}: {check.detail}")
    return 0 if all(r.ok for r in reports) else int(ExitCode.verification)


def _with_catalog_check(report, settings: Settings):
    """Add the ``archive_sha256`` check when the catalog knows the file (by document code, else by hash)."""
    from signing.verify import sha256_check

    catalog_path = settings.catalog.path
    no_catalog = not settings.catalog.url and (catalog_path is None or not catalog_path.is_file())
    if no_catalog or not report.path.is_file():
        return report
    from storage.catalog import open_catalog

    data = report.path.read_bytes()
    with open_catalog(settings.catalog) as catalog:
        row = catalog.find_document(report.path.stem)
        if row is not None and row.output_sha256:
            check = sha256_check(data, row.output_sha256, source=f"as recorded for {row.document_code}")
        else:
            import hashlib

            actual = hashlib.sha256(data).hexdigest()
            found = catalog.query("SELECT document_code FROM documents WHERE output_sha256 = ?", (actual,))
            if not found:
                return report
            check = sha256_check(data, actual, source=f"as recorded for {found[0][0]}")
    return dataclasses.replace(report, checks=(*report.checks, check))


def _font_cache(settings: Settings) -> Path:
    return settings.paths.var_dir / "cache" / "fonts"
