"""External programs: one ``run()`` wrapper with a required timeout, and version probes.

Every call to tesseract, pdftoppm, pdfinfo or qpdf goes through :func:`run`, so
a hung program is killed after its timeout and what it said on stderr is kept
in the error. :func:`probe` answers "is this program here, and which version",
and :func:`tesseract_languages` lists installed language data; ``digitize
doctor`` is built on them.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from digitize import files
from digitize.errors import DigitizeError, MissingToolError, ToolError, ToolTimeoutError
from digitize.i18n import _

#: Debian package that provides each program, for install advice.
PACKAGES = {
    "tesseract": "tesseract-ocr",
    "pdftoppm": "poppler-utils",
    "pdfinfo": "poppler-utils",
    "pdftotext": "poppler-utils",
}

#: One OpenMP thread per Tesseract process: on small machines its threads fight
#: over the cores and make it about twice slower (FIELD-NOTES).
SINGLE_THREAD_ENV = {"OMP_THREAD_LIMIT": "1"}


def install_hint(program: str) -> str:
    package = PACKAGES.get(program, program)
    return _("install it with: {command}", command="apt-get install " + package)


def run(
    args: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    input: bytes | None = None,
    output_dir: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """Run an external program and return its completed process.

    ``timeout`` is required. A missing program raises :class:`MissingToolError`,
    a timeout :class:`ToolTimeoutError` (transient), a non-zero exit
    :class:`ToolError` carrying the program's stderr, unless the program writes
    into ``output_dir`` and that disk is full (or it said so): then
    :class:`StorageFullError` (transient) names the folder.
    """
    program = args[0]
    try:
        proc = subprocess.run(
            list(args), input=input, capture_output=True, timeout=timeout, env=child_env(env), check=False
        )
    except FileNotFoundError as e:
        raise missing(program) from e
    except subprocess.TimeoutExpired as e:
        raise timed_out(program, timeout, _text(e.stderr)) from e
    if proc.returncode != 0:
        raise failure(program, proc.returncode, _text(proc.stderr), output_dir)
    return proc


def child_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment a program is started with: this process's, with ``env`` laid over it."""
    return {**os.environ, **(env or {})}


def missing(program: str) -> MissingToolError:
    """The error for a program that is not installed (not found on PATH)."""
    return MissingToolError(_("{program} is not installed", program=program), hint=install_hint(program))


def timed_out(program: str, timeout: float, stderr: str = "") -> ToolTimeoutError:
    """The error for a program stopped at its timeout (transient)."""
    return ToolTimeoutError(_("{program} did not finish within {seconds} s", program=program, seconds=format(timeout, "g")),
                            stderr=stderr)


def failure(program: str, returncode: int, stderr: str, output_dir: Path | None = None) -> DigitizeError:
    """The error for a program that exited ``returncode`` (not 0): :class:`StorageFullError` naming
    ``output_dir`` when the program writes there and that disk is full (or it said so), else
    :class:`ToolError` with the last line of what it said on stderr."""
    if output_dir is not None and (files.is_short_of_space(output_dir) or _says_disk_full(stderr)):
        return files.storage_full(output_dir / program)
    return ToolError(_("{program} failed with exit code {code}: {error}", program=program, code=returncode,
                       error=_last_line(stderr)), stderr=stderr)


@dataclass(frozen=True)
class Probe:
    """Whether a program is installed, and its version."""

    program: str
    found: bool
    version: str = ""
    detail: str = ""


@functools.cache
def probe(program: str) -> Probe:
    """Find ``program`` on PATH and read its version (cached per process)."""
    if shutil.which(program) is None:
        return Probe(program, False, detail=install_hint(program))
    flag = "-v" if program in ("pdftoppm", "pdfinfo", "pdftotext") else "--version"
    try:
        proc = run([program, flag], timeout=30)
    except ToolError as e:
        return Probe(program, False, detail=str(e))
    out = _text(proc.stdout) + _text(proc.stderr)
    match = re.search(r"(\d+\.\d+(?:\.\d+)?)", out)
    return Probe(program, True, version=match.group(1) if match else "unknown")


def require(program: str) -> Probe:
    """Return the probe of ``program`` or raise :class:`MissingToolError`."""
    found = probe(program)
    if not found.found:
        raise MissingToolError(_("{program} is not installed", program=program),
                               hint=found.detail or install_hint(program))
    return found


def model_folder(tessdata_dir: str = "") -> str:
    """``ocr.tessdata_dir`` as Tesseract takes it: "" (the OS default) for "" and for an
    unresolved "auto" (settings read by :func:`digitize.settings.load_settings` resolve it)."""
    return "" if tessdata_dir == "auto" else tessdata_dir


def tessdata_args(tessdata_dir: str = "") -> list[str]:
    """Tesseract's ``--tessdata-dir`` option for ``tessdata_dir`` (none for "": the OS default)."""
    folder = model_folder(tessdata_dir)
    return ["--tessdata-dir", folder] if folder else []


@functools.cache
def _list_langs(tessdata_dir: str = "") -> tuple[str, frozenset[str]]:
    require("tesseract")
    proc = run(["tesseract", *tessdata_args(tessdata_dir), "--list-langs"], timeout=30)
    lines = (_text(proc.stdout) + _text(proc.stderr)).splitlines()
    header = next((i for i, line in enumerate(lines) if line.startswith("List of available languages")), None)
    if header is None:
        return "", frozenset()
    folder = re.search(r'"(.*)"', lines[header])
    return (folder.group(1).rstrip("/") if folder else ""), frozenset(
        line.strip() for line in lines[header + 1:] if line.strip())


def tesseract_languages(tessdata_dir: str = "") -> frozenset[str]:
    """The language data Tesseract has installed (e.g. ``vie``, ``eng``, ``osd``) in ``tessdata_dir``
    (empty: the OS default folder)."""
    return _list_langs(tessdata_dir)[1]


def tessdata_folder(tessdata_dir: str = "") -> Path | None:
    """The folder Tesseract reads its models from (``tessdata_dir``, or the OS default it reports)."""
    folder = _list_langs(tessdata_dir)[0]
    return Path(folder) if folder else None


def require_languages(languages: str, tessdata_dir: str = "") -> None:
    """Raise :class:`MissingToolError` unless every language of ``vie+eng`` is installed
    (in ``tessdata_dir`` when one is given)."""
    tessdata_dir = model_folder(tessdata_dir)
    if tessdata_dir and not Path(tessdata_dir).is_dir():
        raise MissingToolError(
            _("the Tesseract model folder {folder} (ocr.tessdata_dir) does not exist", folder=tessdata_dir),
            hint=_("run: bash run.sh setup (it installs the model there), or leave ocr.tessdata_dir empty"),
        )
    have = tesseract_languages(tessdata_dir)
    missing = [lang for lang in languages.split("+") if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        command = f"apt-get install {packages}"
        if tessdata_dir:
            raise MissingToolError(
                _("Tesseract language data missing in {folder} (ocr.tessdata_dir): {languages}",
                  folder=tessdata_dir, languages=", ".join(missing)),
                hint=_("install it with: {command}, then bash run.sh setup", command=command),
            )
        raise MissingToolError(_("Tesseract language data missing: {languages}", languages=", ".join(missing)),
                               hint=_("install it with: {command}", command=command))


def tool_versions() -> dict[str, str]:
    """Versions of the external programs, for manifests and ``doctor``."""
    return {p: probe(p).version for p in ("tesseract", "pdftoppm") if probe(p).found}


def check_output(path: Path, program: str) -> None:
    """Raise when ``program`` exited 0 but left ``path`` missing or empty: :class:`StorageFullError`
    when its disk is full (some programs do not report a failed write), else :class:`ToolError`."""
    if path.is_file() and path.stat().st_size > 0:
        return
    if files.is_short_of_space(path.parent):
        raise files.storage_full(path)
    raise ToolError(_("{program} wrote no {name}", program=program, name=path.name))


def _says_disk_full(stderr: str) -> bool:
    return "No space left on device" in stderr or "Disk quota exceeded" in stderr


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    if isinstance(data, bytes):
        return data.decode("utf-8", errors="replace")
    return data


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else _("(no message)")
