"""Is a signed file the document it is filed as? Its document code, read back from the file.

The code lives in the XMP (``dc:identifier`` and the ``document_code=`` field of
``pdf:Keywords``) and may be copied to the Info dictionary's ``/Keywords``;
each place that carries one must name the expected code. A cached scan or
signature reused for a renamed input would name the old code here.
"""

from __future__ import annotations

from pathlib import Path

import pikepdf

from digitize.i18n import _
from signing.report import Check

IDENTITY = "identity"


def check_document_identity(path: Path, document_code: str) -> Check:
    """The ``identity`` check: every document code the file states equals ``document_code``."""
    try:
        stated = _stated_codes(path)
    except (pikepdf.PdfError, OSError) as e:
        return Check(IDENTITY, False, _("the file's metadata cannot be read: {error}", error=e))
    return identity_check(stated, document_code)


def identity_check(stated: dict[str, str], document_code: str) -> Check:
    """The ``identity`` check on the codes a file states (:func:`stated_codes`)."""
    if not stated:
        return Check(IDENTITY, False, _("the file states no document code (no dc:identifier)"))
    wrong = {where: code for where, code in stated.items() if code != document_code}
    if wrong:
        named = ", ".join(_("{where} says {code}", where=where, code=code) for where, code in sorted(wrong.items()))
        return Check(IDENTITY, False, _("filed as {expected}, but {named}", expected=document_code, named=named))
    return Check(IDENTITY, True, _("the file names itself {code} ({where})", code=document_code,
                                   where=", ".join(sorted(stated))))


def stated_codes(path: Path) -> dict[str, str]:
    """Where the file states a document code, and which (empty when it cannot be read)."""
    try:
        return _stated_codes(path)
    except (pikepdf.PdfError, OSError):
        return {}


def _stated_codes(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    with pikepdf.open(path) as pdf:
        xmp = pdf.open_metadata()
        if identifier := str(xmp.get("dc:identifier", "")).strip():
            found["XMP dc:identifier"] = identifier
        if code := _keyword(str(xmp.get("pdf:Keywords", "")), "document_code"):
            found["XMP pdf:Keywords"] = code
        info = pdf.trailer.get("/Info")
        if info is not None and "/Keywords" in info and (code := _keyword(str(info["/Keywords"]), "document_code")):
            found["Info /Keywords"] = code
    return found


def _keyword(keywords: str, name: str) -> str:
    for pair in keywords.split("; "):
        key, sep, value = pair.partition("=")
        if sep and key.strip() == name:
            return value.strip()
    return ""
