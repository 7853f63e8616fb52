"""One exception hierarchy for the whole product.

Every class carries its own process exit code and a ``transient`` flag. The exit
codes are a stable interface (documented in the README); :func:`exit_code_for`
is the one place that turns an exception into a code. Flows retry only errors
whose ``transient`` flag is set.

Third-party errors are wrapped at the package boundary::

    raise SigningError("could not open the signing key") from e
"""

from __future__ import annotations

import enum

from digitize.i18n import _


class ExitCode(enum.IntEnum):
    ok = 0
    unexpected = 1
    usage = 2
    config = 3
    bad_input = 4
    missing_tool = 5
    encrypted_input = 6
    signed_input = 7
    tool_failed = 8
    signing = 9
    verification = 10
    archive = 11
    catalog = 12
    partial = 13
    storage_full = 14
    pdfa = 15
    indeterminate = 16
    interrupted = 130
    terminated = 143


class DigitizeError(Exception):
    """Base of every error the product raises on purpose.

    ``message`` is written for a clerk or an operator: what went wrong and,
    where there is one, what to do about it.
    """

    exit_code: ExitCode = ExitCode.unexpected
    transient: bool = False

    def __init__(self, message: str, *, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} ({self.hint})"
        return self.message


class UsageError(DigitizeError):
    """The command line asks for something refused (e.g. an output that exists)."""

    exit_code = ExitCode.usage


class ConfigError(DigitizeError):
    """The configuration file or a DIGITIZE_* variable is wrong."""

    exit_code = ExitCode.config


class BadInputError(DigitizeError):
    """An input file is empty, corrupt, not an image or wrongly named."""

    exit_code = ExitCode.bad_input


class DocumentConflictError(BadInputError):
    """The document code or the scan is already taken: archived, or being digitized, as something else."""


class EncryptedInputError(BadInputError):
    """An input PDF is encrypted or password protected."""

    exit_code = ExitCode.encrypted_input


class SignedInputError(BadInputError):
    """An input PDF already carries a digital signature."""

    exit_code = ExitCode.signed_input


class MissingToolError(DigitizeError):
    """An external program or its data (e.g. a Tesseract language) is missing."""

    exit_code = ExitCode.missing_tool


class ToolError(DigitizeError):
    """An external program failed; ``stderr`` keeps what it said."""

    exit_code = ExitCode.tool_failed

    def __init__(self, message: str, *, stderr: str = "", hint: str | None = None):
        super().__init__(message, hint=hint)
        self.stderr = stderr


class ToolTimeoutError(ToolError):
    """An external program ran past its timeout (may succeed on a retry)."""

    transient = True


class PdfaError(DigitizeError):
    """A file that should be PDF/A fails the PDF/A check."""

    exit_code = ExitCode.pdfa


class SigningError(DigitizeError):
    """The signature could not be made (key, password, certificate)."""

    exit_code = ExitCode.signing


class TimestampUnavailableError(SigningError):
    """The timestamp authority could not be reached."""

    transient = True


class VerificationError(DigitizeError):
    """A signed file failed verification."""

    exit_code = ExitCode.verification


class ArchiveError(DigitizeError):
    """The archive refused or lost a write (e.g. different bytes, same key)."""

    exit_code = ExitCode.archive


class ArchiveUnavailableError(ArchiveError):
    """The archive could not be reached (network, disk); may succeed later."""

    transient = True


class CatalogError(DigitizeError):
    """The catalog database failed or is inconsistent."""

    exit_code = ExitCode.catalog


class CatalogUnavailableError(CatalogError):
    """The catalog server could not be reached; may succeed later (the input stays in the inbox)."""

    transient = True


class StorageFullError(DigitizeError):
    """A disk (or quota) the pipeline writes to is full; may succeed once space is freed.

    Transient: the input stays in the scanner folder for the next run.
    """

    exit_code = ExitCode.storage_full
    transient = True


class BatchError(DigitizeError):
    """Some items of a batch failed; the rest were processed."""

    exit_code = ExitCode.partial


class StoppedError(DigitizeError):
    """Work was cut short because the run itself is stopping (a signal): transient, the input goes
    back to the scanner folder for the next run."""

    exit_code = ExitCode.terminated
    transient = True


class Terminated(BaseException):
    """The process was asked to stop (SIGTERM): raised from the signal handler so that every
    ``finally`` runs (temporary folders removed, child processes stopped). Like
    ``KeyboardInterrupt`` it is no ``Exception``: nothing may catch it and carry on."""

    def __init__(self, signum: int):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def exit_code_for(exc: BaseException) -> int:
    """The process exit code for ``exc``: the one place codes are decided."""
    if isinstance(exc, DigitizeError):
        return int(exc.exit_code)
    if isinstance(exc, KeyboardInterrupt):
        return int(ExitCode.interrupted)
    if isinstance(exc, Terminated):
        return 128 + exc.signum  # the shell's convention: SIGTERM gives 143
    return int(ExitCode.unexpected)


def is_transient(exc: BaseException) -> bool:
    """True when retrying the operation that raised ``exc`` may succeed."""
    return isinstance(exc, DigitizeError) and exc.transient


class CsvImportError(BadInputError):
    """A CSV import was refused; ``errors`` holds ``(line number, message)`` for each bad line."""

    def __init__(self, message: str, errors: list[tuple[int, str]], *, hint: str | None = None):
        shown = "\n".join("  " + _("line {line}: {reason}", line=line, reason=text) for line, text in errors[:50])
        more = "\n  " + _("... and {n} more", n=len(errors) - 50) if len(errors) > 50 else ""
        super().__init__(f"{message}\n{shown}{more}" if errors else message, hint=hint)
        self.errors = errors
