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

from digitize import ocr, tesseract_api, tools
from digitize.errors import DigitizeError, ExitCode
from digitize.i18n import N_, _
from digitize.settings import Settings

#: The checks' names, marked here and translated where shown (``_(check.name)``).
TESSERACT, LANGUAGES, POPPLER = N_("tesseract"), N_("tesseract languages"), N_("poppler")
SIGNING_KEY, STAMP_FONT, ARCHIVE, CATALOG = N_("signing key"), N_("stamp font"), N_("archive"), N_("catalog")


@dataclass(frozen=True)
class DoctorCheck:
    """One precondition: its name (English, translated where shown), whether it holds, what was found
    and how to fix it, in the reader's language, and the exit code ``doctor`` gives when it fails."""

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
        return DoctorCheck(TESSERACT, False, _("not installed"), tools.install_hint("tesseract"),
                           ExitCode.missing_tool)
    major = int(found.version.split(".")[0]) if found.version[:1].isdigit() else 0
    if major < 4:
        return DoctorCheck(TESSERACT, False, _("version {version} is too old (need 4 or later)",
                                               version=found.version),
                           "apt-get install tesseract-ocr", ExitCode.missing_tool)
    return DoctorCheck(TESSERACT, True, _("version {version}; {reading}", version=found.version,
                                          reading=reading_note()))


def reading_note() -> str:
    """How the page workers run Tesseract (:mod:`digitize.tesseract_api`), for ``doctor``."""
    if tesseract_api.tesseract_library() is None:
        return _("started for each page (no libtesseract found for the tesseract program)")
    if tesseract_api.png_store() is None:
        return _("loaded once per page worker; bash run.sh setup with a C compiler would make it about a fifth "
                 "faster ({library} is not built)", library=tesseract_api.PNG_STORE.name)
    return _("loaded once per page worker, its line images kept uncompressed ({library})",
             library=tesseract_api.PNG_STORE.name)


def check_languages(settings: Settings) -> DoctorCheck:
    if not tools.probe("tesseract").found:
        return DoctorCheck(LANGUAGES, False, _("tesseract is missing"), tools.install_hint("tesseract"),
                           ExitCode.missing_tool)
    wanted = sorted(set(settings.ocr.languages.split("+")) | {"vie", "eng", "osd"})
    folder = settings.ocr.tessdata_dir
    if folder and not Path(folder).is_dir():
        return DoctorCheck(LANGUAGES, False,
                           _("model folder {folder} (ocr.tessdata_dir) does not exist", folder=folder),
                           _("bash run.sh setup (installs the best_int model there), or leave ocr.tessdata_dir empty"),
                           ExitCode.missing_tool)
    have = tools.tesseract_languages(folder)
    missing = [lang for lang in wanted if lang not in have]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        names = ", ".join(missing)
        if folder:
            detail = _("missing {languages} in {folder}", languages=names, folder=folder)
            fix = _("apt-get install {packages}, then bash run.sh setup", packages=packages)
        else:
            detail, fix = _("missing {languages}", languages=names), f"apt-get install {packages}"
        return DoctorCheck(LANGUAGES, False, detail, fix, ExitCode.missing_tool)
    return DoctorCheck(LANGUAGES, True, _("{languages} installed; OCR uses {used}; {note}",
                                          languages=", ".join(wanted), used=settings.ocr.languages,
                                          note=model_note(folder)))


def model_note(tessdata_dir: str) -> str:
    """Which Vietnamese model OCR uses, and from where, for ``doctor``."""
    model = ocr.vie_model(tessdata_dir)
    where = tessdata_dir or _("the OS package's folder")
    note = _("Vietnamese model {model} from {where}", model=model, where=where)
    if model != "best_int":
        note += " " + _("(the best_int model: bash run.sh setup installs it into var/tessdata when npm is there; "
                        "then set ocr.tessdata_dir = \"auto\")")
    return note


def check_poppler(settings: Settings) -> DoctorCheck:
    found = tools.probe("pdftoppm")
    if not found.found:
        return DoctorCheck(POPPLER, False, _("pdftoppm not installed"), tools.install_hint("pdftoppm"),
                           ExitCode.missing_tool)
    return DoctorCheck(POPPLER, True, f"pdftoppm {found.version}")


def check_signing_key(settings: Settings) -> DoctorCheck:
    from signing.session import open_signing_session

    try:
        with open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache) as s:
            note = s.note
    except DigitizeError as e:
        return DoctorCheck(SIGNING_KEY, False, str(e), _("set signing.pkcs12 (or signing.pkcs11_*) and its "
                           "password, or leave them empty to use the demo key"), e.exit_code)
    return DoctorCheck(SIGNING_KEY, True, note)


def check_stamp_font(settings: Settings) -> DoctorCheck:
    from signing.fonts import default_font_path

    try:
        path = default_font_path()
    except DigitizeError as e:
        return DoctorCheck(STAMP_FONT, False, e.message, e.hint or "", e.exit_code)
    if "liberation2" not in path.parts:
        return DoctorCheck(STAMP_FONT, False, _("{path} lacks Vietnamese letters", path=path),
                           "apt-get install fonts-liberation2", ExitCode.missing_tool)
    return DoctorCheck(STAMP_FONT, True, str(path))


def check_archive(settings: Settings) -> DoctorCheck:
    if settings.archive.backend == "s3":
        from storage.s3 import S3Archive

        try:
            return DoctorCheck(ARCHIVE, True, S3Archive(settings.archive).check_bucket())
        except DigitizeError as e:
            return DoctorCheck(ARCHIVE, False, str(e), _("check archive.endpoint_url, archive.bucket and the "
                               "AWS_* credentials"), e.exit_code)
    root = settings.archive.root
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return DoctorCheck(ARCHIVE, False, _("cannot create {folder}: {error}", folder=root, error=e),
                           _("set archive.root to a writable folder"), ExitCode.archive)
    if not os.access(root, os.W_OK):
        return DoctorCheck(ARCHIVE, False, _("{folder} is not writable", folder=root),
                           _("set archive.root to a writable folder"), ExitCode.archive)
    return DoctorCheck(ARCHIVE, True, _("local folder {folder}", folder=root))


def check_catalog(settings: Settings) -> DoctorCheck:
    from storage.catalog import describe_catalog, open_catalog

    try:
        with open_catalog(settings.catalog) as catalog:
            version = catalog.schema_version
    except DigitizeError as e:
        return DoctorCheck(CATALOG, False, str(e), _("set catalog.path to a writable SQLite file, or catalog.url "
                           "to a reachable PostgreSQL"), e.exit_code)
    return DoctorCheck(CATALOG, True, _("{where} (schema v{version})", where=describe_catalog(settings.catalog),
                                        version=version))


