"""Archive keys: where a document and its manifest live, in a bucket or a folder.

Layout (the same for the local folder and for S3)::

    {level}/{office}/{yyyy}/{dossier_code}/{dossier_code}-KQ1.pdf
    {level}/{office}/{yyyy}/{dossier_code}/{dossier_code}-KQ1.manifest.json
    {level}/{office}/{yyyy}/{dossier_code}/{dossier_code}-KQ1.signed-original.pdf

The last is there only for a document digitized from an input that already
carried a digital signature (``ocr.signed_input = "keep-original"``): the
original's exact bytes, kept as evidence beside the digitized copy; with
several signed inputs they are ``.signed-original-1.pdf``, ``-2``... in input
order, named as ``digitize ocr`` names the copies it keeps.

Each document has its own manifest beside it: a dossier holds several
documents (HS1..HSn, KQ1) and archived objects are never rewritten, so one
shared ``manifest.json`` per dossier folder could only ever hold the first.

A key is used as a relative file path by the local backend, so every key is
checked before use: no '..', no leading '/', no backslash, no empty or hidden
('.'-led) segment, nothing outside ``[A-Za-z0-9._/-]``.
"""

from __future__ import annotations

import re
from datetime import datetime

from digitize.errors import BadInputError
from digitize.i18n import _
from digitize.models import VIETNAM, DocumentMeta, signed_original_names

MANIFEST_SUFFIX = ".manifest.json"
RENEWED_INFIX = ".renewed-"
MIN_YEAR = 1900
MAX_YEAR = 9999
_KEY_CHARS = re.compile(r"[A-Za-z0-9._/-]+")


def archive_key(meta: DocumentMeta, year: int) -> str:
    """The key of the signed PDF of ``meta``, filed under ``year``."""
    return check_key(f"{dossier_prefix(meta, year)}/{meta.document_code}.pdf")


def manifest_key(meta: DocumentMeta, year: int) -> str:
    """The key of the metadata manifest of ``meta``, beside its PDF."""
    return manifest_key_of(archive_key(meta, year))


def manifest_key_of(key: str) -> str:
    """The manifest's key (or file name) beside the PDF ``key``: ``X.pdf`` -> ``X.manifest.json``."""
    return key.removesuffix(".pdf") + MANIFEST_SUFFIX


def renewed_key(key: str, when: datetime) -> str:
    """``.../X-KQ1.pdf`` renewed on 2031-05-02 is stored as ``.../X-KQ1.renewed-20310502.pdf``."""
    return f"{document_stem(key)}{RENEWED_INFIX}{when.astimezone(VIETNAM):%Y%m%d}.pdf"


def document_stem(key: str) -> str:
    """The key (or file name) of an archived PDF without ``.pdf`` and a renewal's date: for a file
    name, the document code (``X-KQ1.pdf``, ``X-KQ1.renewed-20310502.pdf`` -> ``X-KQ1``)."""
    return key.removesuffix(".pdf").split(RENEWED_INFIX)[0]


def signed_original_keys(meta: DocumentMeta, year: int, count: int) -> list[str]:
    """The keys of the ``count`` signed originals of ``meta``, in input order, beside its PDF.

    One original is ``<document>.signed-original.pdf``; several are numbered
    ``<document>.signed-original-1.pdf``, ``-2``...
    """
    prefix = dossier_prefix(meta, year)
    return [check_key(f"{prefix}/{name}") for name in signed_original_names(meta.document_code, count)]


def dossier_prefix(meta: DocumentMeta, year: int) -> str:
    """The folder (without trailing '/') that holds every file of the dossier of ``meta``."""
    _check_year(year)
    return f"{meta.level}/{meta.office}/{year:04d}/{meta.dossier_code}"


def check_key(key: str) -> str:
    """Return ``key`` if it is a safe archive key, else raise :class:`BadInputError`."""
    problem = _key_problem(key)
    if problem:
        raise BadInputError(_("archive key {key!r} is not allowed: {problem}", key=key, problem=problem))
    return key


def check_prefix(prefix: str) -> str:
    """Return ``prefix`` if it is empty or a safe start of a key (may end with '/'), else raise."""
    if prefix == "":
        return prefix
    problem = _key_problem(prefix[:-1] if prefix.endswith("/") else prefix)
    if problem:
        raise BadInputError(_("archive key prefix {prefix!r} is not allowed: {problem}",
                              prefix=prefix, problem=problem))
    return prefix


def _key_problem(key: object) -> str | None:
    if not isinstance(key, str) or not key:
        return _("it is empty or not text")
    if key.startswith("/"):
        return _("it starts with '/'")
    if "\\" in key:
        return _("it contains a backslash")
    if ".." in key:
        return _("it contains '..'")
    if not _KEY_CHARS.fullmatch(key):
        return _("use only letters, digits, '.', '_', '-' and '/'")
    if any(part == "" or part.startswith(".") for part in key.split("/")):
        return _("a path segment is empty or starts with '.'")
    return None


def _check_year(year: int) -> None:
    if isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR:
        raise BadInputError(_("archive year {year!r} must be a four-digit year", year=year))
