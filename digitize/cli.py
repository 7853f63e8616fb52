"""The ``digitize`` command: the edge where settings are read and errors become exit codes.

Each group of sub-commands lives in :mod:`digitize.commands` and registers
itself here. Sub-commands import the packages they need when they run, so
``digitize doctor`` works (and says what is missing) even when a heavy
dependency is broken, and Prefect is imported only by ``run``. This module
and the command modules are the edge: they may import ``signing``,
``storage`` and ``flows``; the rest of ``digitize`` may not.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from digitize import __version__
from digitize.commands import archive, doctor, rates, run, scan, signing
from digitize.errors import DigitizeError, exit_code_for
from digitize.settings import load_settings

COMMAND_GROUPS = (doctor, run, scan, signing, archive, rates)


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
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser
