"""``digitize doctor``: print every check and how to fix what fails."""

from __future__ import annotations

import argparse
import sys

from digitize.i18n import _, ngettext
from digitize.settings import Settings, describe_source


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help=_("check Tesseract, poppler, the signing key, the archive and the catalog"))
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args: argparse.Namespace, settings: Settings) -> int:
    from cli.doctor import run_checks

    checks = run_checks(settings)
    for check in checks:
        print(f"[{_mark(check.ok)}] {_(check.name)}: {check.detail}")
        if not check.ok and check.fix:
            print("       " + _("fix: {fix}", fix=check.fix))
    failed = [c for c in checks if not c.ok]
    if failed:
        print(ngettext("{n} problem found (settings from {source})", "{n} problems found (settings from {source})",
                       len(failed), n=len(failed), source=describe_source(settings.source)), file=sys.stderr)
        return int(failed[0].exit_code)
    return 0


def _mark(ok: bool) -> str:
    """``ok`` or ``FAIL`` in the reader's language, padded to one width so the names line up."""
    from rich.cells import cell_len

    passed, failed = _("ok"), _("FAIL")
    width = max(cell_len(passed), cell_len(failed))
    mark = passed if ok else failed
    return mark + " " * (width - cell_len(mark))
