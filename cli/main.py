"""The ``digitize`` command: the edge where settings are read and errors become exit codes.

Each group of sub-commands lives in :mod:`cli.commands` and registers
itself here. Sub-commands import the packages they need when they run, so
``digitize doctor`` works (and says what is missing) even when a heavy
dependency is broken, and Prefect is imported only by ``run``. This package
is the edge: it may import ``flows``, ``pipeline``, ``signing``, ``storage``
and the ``digitize`` kernel; none of them may import it.

Secrets of the settings (passwords, PINs, URL passwords) are masked in
everything the command writes: its output, its error messages and its log
records. SIGTERM raises :class:`~digitize.errors.Terminated`, so clean-up runs
and the exit code is 143; Ctrl-C exits 130.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from cli.commands import archive, doctor, rates, run, scan, signing
from digitize import __version__
from digitize.errors import DigitizeError, Terminated, exit_code_for
from digitize.i18n import LANGUAGES, _, set_language
from digitize.settings import Settings, UiSettings, load_settings, mask_secrets, secret_values

COMMAND_GROUPS = (doctor, run, scan, signing, archive, rates)
#: Secrets that are not settings but reach the libraries through their own standard chains.
ENV_SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PGPASSWORD")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    set_language(_first_language(argv))  # the parser's help and usage errors are read too
    parser = build_parser()
    args = parser.parse_args(argv)
    secrets: tuple[str, ...] = ()
    try:
        with terminate_raises():
            settings = load_settings(args.config)
            set_language(settings.ui.language)
            secrets = _secrets_to_mask(settings)
            with masked_output(secrets):
                return int(args.func(args, settings) or 0)
    except DigitizeError as e:
        print(mask_secrets(_("digitize: error: {error}", error=e), secrets), file=sys.stderr)
        return exit_code_for(e)
    except KeyboardInterrupt as e:
        print(_("digitize: interrupted"), file=sys.stderr)
        return exit_code_for(e)
    except Terminated as e:
        print(_("digitize: stopped by signal {signum}; temporary files and child processes removed",
                signum=e.signum), file=sys.stderr)
        return exit_code_for(e)


def _first_language(argv: Sequence[str] | None) -> str:
    """``ui.language`` as the settings give it, read before the arguments are parsed (for the help and
    usage errors); settings that cannot be read give the default here and are reported after parsing."""
    early = argparse.ArgumentParser(add_help=False)
    early.add_argument("--config", type=Path)
    known, _rest = early.parse_known_args(argv)
    try:
        return load_settings(known.config).ui.language
    except DigitizeError:  # reported after parsing; meanwhile the language asked for, if it is one there is
        asked = os.environ.get("DIGITIZE_UI__LANGUAGE", "")
        return asked if asked in LANGUAGES else UiSettings().language


def _secrets_to_mask(settings: Settings) -> tuple[str, ...]:
    from_env = (os.environ.get(name, "") for name in ENV_SECRETS)
    found = {*secret_values(settings), *(value for value in from_env if len(value) >= 3)}
    return tuple(sorted(found, key=len, reverse=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="digitize",
        description=_("Scanned dossiers to signed, searchable PDF/A, archived and counted."),
    )
    parser.add_argument("--version", action="version", version=f"digitize {__version__}")
    parser.add_argument("--config", type=Path, help=_("settings file (default: ./digitize.toml or $DIGITIZE_CONFIG)"))
    sub = parser.add_subparsers(dest="command", required=True)
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def terminate_raises() -> Iterator[None]:
    """While inside, SIGTERM raises :class:`Terminated` in the main thread (finally-blocks run)."""
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except ValueError:  # not the main thread (e.g. called from a test's thread)
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class _MaskingStream:
    """A text stream that writes through to ``stream`` with every secret replaced by ``***``."""

    def __init__(self, stream: TextIO, secrets: tuple[str, ...]) -> None:
        self._stream = stream
        self._secrets = secrets

    def write(self, text: str) -> int:
        self._stream.write(mask_secrets(text, self._secrets))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def masked_output(secrets: tuple[str, ...]) -> Iterator[None]:
    """Mask ``secrets`` in standard output, standard error and every log record made inside."""
    if not secrets:
        yield
        return
    out, err = sys.stdout, sys.stderr
    make_record = logging.getLogRecordFactory()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make_record(*args, **kwargs)
        try:
            record.msg, record.args = mask_secrets(record.getMessage(), secrets), ()
        except (TypeError, ValueError):  # a malformed call: logging reports it when the record is emitted
            pass
        return record

    sys.stdout, sys.stderr = _MaskingStream(out, secrets), _MaskingStream(err, secrets)
    logging.setLogRecordFactory(masked_record)
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        logging.setLogRecordFactory(make_record)
