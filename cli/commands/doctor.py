"""``digitize doctor``: print every check and how to fix what fails."""

from __future__ import annotations

import argparse
import sys

from digitize.settings import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check Tesseract, poppler, the signing key, the archive and the catalog")
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from cli.doctor import run_checks

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
