"""Small typed values that pass between stages and packages.

A document is named as Decree 45/2020 Art. 14(3) names results in the citizens'
reuse store: ``<dossier code>-KQ<n>`` for a result (kết quả) and
``<dossier code>-HS<n>`` for a paper of the dossier (hồ sơ).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from digitize.errors import BadInputError
from digitize.i18n import N_, _, format_number
from digitize.i18n import VIETNAM as VIETNAM  # Vietnam time, defined with the formats and given on from here

KINDS = ("KQ", "HS")
#: Beside a digitized copy, a signed input kept untouched (``ocr.signed_input = "keep-original"``).
SIGNED_ORIGINAL_SUFFIX = ".signed-original"
#: The PAdES baseline levels (ETSI EN 319 142-1), weakest first; ``signing.pades_level`` also takes "auto".
PADES_LEVELS = ("B-B", "B-T", "B-LT", "B-LTA")
#: The copy forms a digital copy's visible signature names (Decree 30/2020, ``signing.copy_form``).
COPY_FORMS = ("SAO Y", "SAO LỤC", "TRÍCH SAO")
#: The fields a JSON object may give about a document (``digitize ocr --metadata``; a sidecar gives fewer).
META_FIELDS = ("dossier_code", "kind", "number", "level", "office", "procedure_code", "title")
#: Longest title taken: ample for the name of any paper, far below what one PDF string may hold
#: (32,767 bytes, ISO 32000-1 Annex C; a title is written as UTF-16 in the Info dictionary).
MAX_TITLE_CHARS = 1000
#: Fields that may be left out, or left empty.
_OPTIONAL_TEXT = ("procedure_code", "title")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_DOCUMENT = re.compile(r"(?P<code>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<kind>KQ|HS)(?P<number>[1-9][0-9]{0,3})")


def nfc(text: str) -> str:
    """Vietnamese text is kept in Unicode NFC everywhere."""
    return unicodedata.normalize("NFC", text)


def shown(value: object, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters, for messages (a value may be megabytes long)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_code(value: str, what: str = N_("dossier code")) -> str:
    """Return ``value`` if it is a safe code (letters, digits, '.', '_', '-'), else raise.

    Codes become parts of archive keys and file names: no path separators,
    no '..', nothing outside the allowed set.
    """
    if not isinstance(value, str) or not _CODE.fullmatch(value) or ".." in value:
        raise BadInputError(_(
            "{what} {value} is not allowed: use letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)", what=_(what), value=shown(value),
        ))
    return value


def check_office(value: str) -> str:
    """Return ``value`` if it is a valid office code (lower-case slug), else raise."""
    if not isinstance(value, str) or not _OFFICE.fullmatch(value):
        raise BadInputError(_("office code {value} is not allowed: use lower-case letters, digits and '-'",
                              value=shown(value)))
    return value


@dataclass(frozen=True)
class DocumentMeta:
    """What is known about one document (one input file or folder) of a dossier."""

    dossier_code: str
    kind: str
    number: int
    level: str
    office: str
    procedure_code: str | None = None
    title: str | None = None

    def __post_init__(self) -> None:
        check_code(self.dossier_code)
        check_office(self.office)
        check_office(self.level)
        if not isinstance(self.kind, str) or self.kind not in KINDS:
            raise BadInputError(_("kind {value} must be KQ (result) or HS (dossier paper)", value=shown(self.kind)))
        check_number(self.number)
        if self.procedure_code is not None:
            check_code(self.procedure_code, N_("procedure code"))
        if self.title is not None:
            object.__setattr__(self, "title", check_title(self.title))

    @property
    def document_code(self) -> str:
        """``<dossier code>-KQ<n>`` or ``<dossier code>-HS<n>``."""
        return f"{self.dossier_code}-{self.kind}{self.number}"


def parse_document_code(name: str) -> tuple[str, str, int]:
    """Split ``000.31.25.H08-261128-0001-KQ1`` into (dossier code, kind, number)."""
    m = _DOCUMENT.fullmatch(name)
    if not m:
        raise BadInputError(_(
            "the name {value} does not follow '<dossier code>-KQ<n>' or '<dossier code>-HS<n>' "
            "(for example 000.31.25.H08-261128-0001-KQ1.pdf)", value=shown(name),
        ))
    return check_code(m["code"]), m["kind"], int(m["number"])


def check_number(value: object) -> int:
    """Return ``value`` if it is a document number (a whole number from 1 to 9999), else raise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 9999:
        raise BadInputError(_("document number {value} must be a whole number from 1 to 9999 (no quotes)",
                              value=shown(value)))
    return value


def check_title(value: object) -> str:
    """Return ``value`` in NFC if it can be a document's title, else raise.

    A title is text of at most :data:`MAX_TITLE_CHARS` characters without control
    characters (XMP, being XML, cannot hold them) and encodable as UTF-8.
    """
    if not isinstance(value, str):
        raise BadInputError(_("title must be text in quotes, not {kind}", kind=json_kind(value)))
    if len(value) > MAX_TITLE_CHARS:
        raise BadInputError(_("title is {count} characters long; at most {limit} are allowed",
                              count=format_number(len(value)), limit=format_number(MAX_TITLE_CHARS)))
    bad = next((c for c in value if unicodedata.category(c) in ("Cc", "Cs")), None)
    if bad is not None:
        raise BadInputError(_("title holds a control or invalid character ({char}); type it again as plain text",
                              char="U+" + format(ord(bad), "04X")))
    return nfc(value)


def signed_original_names(stem: str, count: int) -> list[str]:
    """The names of the ``count`` signed originals kept beside the document ``stem``, in input
    order: one is ``<stem>.signed-original.pdf``, several ``<stem>.signed-original-1.pdf``, ``-2``..."""
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise ValueError(f"signed original count {count!r} must be a whole number >= 0")  # a caller's mistake
    if count == 1:
        return [f"{stem}{SIGNED_ORIGINAL_SUFFIX}.pdf"]
    return [f"{stem}{SIGNED_ORIGINAL_SUFFIX}-{n}.pdf" for n in range(1, count + 1)]


def json_kind(value: object) -> str:
    """What a JSON value is, in words: "a list", "a number", ..."""
    kinds = {bool: N_("true/false"), int: N_("a number"), float: N_("a number"), str: N_("text"),
             list: N_("a list"), dict: N_("an object")}
    found = (name for kind, name in kinds.items() if isinstance(value, kind))
    return _(next(found, "null" if value is None else N_("a value")))


def meta_fields(data: object, source: str, allowed: tuple[str, ...] = META_FIELDS) -> dict[str, object]:
    """The fields of a JSON object describing a document, checked, without those that are ``null``
    (or, for ``procedure_code`` and ``title``, left empty).

    ``source`` names where the object came from (a sidecar's file name) in every
    message. Refuses, with :class:`BadInputError`, anything but an object, a field
    not in ``allowed``, a number that is not a whole number, text given as another
    JSON type, and a title that :func:`check_title` refuses.
    """
    if not isinstance(data, dict):
        raise BadInputError(_("{name} must hold a JSON object ({{...}}), not {kind}", name=source, kind=json_kind(data)))
    unknown = [key for key in data if key not in allowed]
    if unknown:
        raise BadInputError(_(
            "{name}: unknown field(s) {fields}; allowed: {allowed}",
            name=source, fields=", ".join(shown(k, 40) for k in unknown[:5]), allowed=", ".join(allowed),
        ))
    fields: dict[str, object] = {}
    for key, value in data.items():
        if value is None or (key in _OPTIONAL_TEXT and isinstance(value, str) and not value.strip()):
            continue  # left empty, as in a template
        try:
            if key == "number":
                fields[key] = check_number(value)
            elif key == "title":
                fields[key] = check_title(value)
            elif isinstance(value, str):
                fields[key] = nfc(value)
            else:
                raise BadInputError(_("{key} must be text in quotes, not {kind}", key=key, kind=json_kind(value)))
        except BadInputError as e:
            raise BadInputError(_("{name}: {reason}", name=source, reason=e.message)) from e
    return fields
