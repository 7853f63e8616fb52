"""``digitize doctor``: every precondition checked at once, each with how to fix it.

Checks are plain functions returning :class:`DoctorCheck`; they never raise for
a problem they are looking for. The signing, archive and catalog checks import
their packages when they run, so that a broken one is reported by its check
instead of stopping ``digitize doctor`` before it starts.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from digitize import ocr, tools
from digitize.errors import DigitizeError, ExitCode
from digitize.settings import Settings


@dataclass(frozen=True)
class DoctorCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    exit_code: ExitCode = ExitCode.ok


def run_checks(settings: Settings) -> list[DoctorCheck]:
    """All checks, in the order a new install usually fails them."""
    checks: list[Callable[[Settings], DoctorCheck]] = [
        check_tesseract,
        check_languages,
        check_poppler,
        check_signing_key,
        check_stamp_font,
        check_archive,
        check_catalog,
    ]
    return [check(settings) for check in checks]


def check_tesseract(settings: Settings) -> DoctorCheck:
    found = tools.probe("tesseract")
    if not found.found:
        return DoctorCheck("tesseract", False, "not installed", tools.install_hint("tesseract"), ExitCode.missing_tool)
    major = int(found.version.split(".")[0]) if found.version[:1].isdigit() else 0
    if major < 4:
        return DoctorCheck("tesseract", False, f"version {found.version} is too old (need 4 or later)",
                           "apt-get install tesseract-ocr", ExitCode.missing_tool)
    return DoctorCheck("tesseract", True, f"version {found.version}")


def check_languages(settings: Settings) -> DoctorCheck:
    if not tools.probe("tesseract").found:
        return DoctorCheck("tesseract languages", False, "tesseract is missing", tools.install_hint("tesseract"),
                           ExitCode.missing_tool)
    wanted = sorted(set(settings.ocr.languages.split("+")) | {"vie", "eng", "osd"})
    folder = settings.ocr.tessdata_dir
    if folder and not Path(folder).is_dir():
        return DoctorCheck("tesseract languages", False, f"model folder {folder} (ocr.tessdata_dir) does not exist",
                           "bash run.sh setup (installs the best_int model there), or leave ocr.tessdata_dir empty",
                           ExitCode.missing_tool)
    have = tools.tesseract_languages(folder)
    missing = [lang for lang in wanted if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return DoctorCheck("tesseract languages", False, f"missing {', '.join(missing)}" + (f" in {folder}" if folder else ""),
                           f"apt-get install {packages}" + (", then bash run.sh setup" if folder else ""),
                           ExitCode.missing_tool)
    return DoctorCheck("tesseract languages", True, f"{', '.join(wanted)} installed; OCR uses {settings.ocr.languages}; "
                       f"{model_note(folder)}")


def model_note(tessdata_dir: str) -> str:
    """Which Vietnamese model OCR uses, and from where, for ``doctor``."""
    model = ocr.vie_model(tessdata_dir)
    where = tessdata_dir or "the OS package's folder"
    note = f"Vietnamese model {model} from {where}"
    if model != "best_int":
        note += (" (the best_int model: bash run.sh setup installs it into var/tessdata when npm is there; "
                 "then set ocr.tessdata_dir = \"auto\")")
    return note


def check_poppler(settings: Settings) -> DoctorCheck:
    found = tools.probe("pdftoppm")
    if not found.found:
        return DoctorCheck("poppler", False, "pdftoppm not installed", tools.install_hint("pdftoppm"),
                           ExitCode.missing_tool)
    return DoctorCheck("poppler", True, f"pdftoppm {found.version}")


def check_signing_key(settings: Settings) -> DoctorCheck:
    from signing.session import open_signing_session

    try:
        with open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache) as s:
            note = s.note
    except DigitizeError as e:
        return DoctorCheck("signing key", False, str(e), "set signing.pkcs12 (or signing.pkcs11_*) and its "
                           "password, or leave them empty to use the demo key", e.exit_code)
    return DoctorCheck("signing key", True, note)


def check_stamp_font(settings: Settings) -> DoctorCheck:
    from signing.fonts import default_font_path

    try:
        path = default_font_path()
    except DigitizeError as e:
        return DoctorCheck("stamp font", False, e.message, e.hint or "", e.exit_code)
    if "liberation2" not in path.parts:
        return DoctorCheck("stamp font", False, f"{path} lacks Vietnamese letters",
                           "apt-get install fonts-liberation2", ExitCode.missing_tool)
    return DoctorCheck("stamp font", True, str(path))


def check_archive(settings: Settings) -> DoctorCheck:
    if settings.archive.backend == "s3":
        from storage.s3 import S3Archive

        try:
            return DoctorCheck("archive", True, S3Archive(settings.archive).check_bucket())
        except DigitizeError as e:
            return DoctorCheck("archive", False, str(e), "check archive.endpoint_url, archive.bucket and the "
                               "AWS_* credentials", e.exit_code)
    root = settings.archive.root
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return DoctorCheck("archive", False, f"cannot create {root}: {e}", "set archive.root to a writable folder",
                           ExitCode.archive)
    if not os.access(root, os.W_OK):
        return DoctorCheck("archive", False, f"{root} is not writable", "set archive.root to a writable folder",
                           ExitCode.archive)
    return DoctorCheck("archive", True, f"local folder {root}")


def check_catalog(settings: Settings) -> DoctorCheck:
    from storage.catalog import open_catalog

    try:
        with open_catalog(settings.catalog) as catalog:
            version = catalog.schema_version
    except DigitizeError as e:
        return DoctorCheck("catalog", False, str(e), "set catalog.path to a writable SQLite file, or catalog.url "
                           "to a reachable PostgreSQL", e.exit_code)
    where = "PostgreSQL" if settings.catalog.url else f"SQLite {settings.catalog.path}"
    return DoctorCheck("catalog", True, f"{where} (schema v{version})")


