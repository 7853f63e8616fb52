"""``digitize verify``: one report per signed file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from digitize.errors import ExitCode
from digitize.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("verify", help="verify signed PDFs: integrity, signature, trust, changes after signing")
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--json", action="store_true", help="print the reports as JSON")
    p.set_defaults(func=cmd_verify)


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
