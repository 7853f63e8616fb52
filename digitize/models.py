"""Small typed values that pass between stages and packages.

A document is named as Decree 45/2020 Art. 14(3) names results in the citizens'
reuse store: ``<dossier code>-KQ<n>`` for a result (kết quả) and
``<dossier code>-HS<n>`` for a paper of the dossier (hồ sơ).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import timedelta, timezone

from digitize.errors import BadInputError

#: Vietnam time (UTC+7, no daylight saving): signing times, archive years and report days.
VIETNAM = timezone(timedelta(hours=7), "ICT")

KINDS = ("KQ", "HS")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_OFFICE = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_DOCUMENT = re.compile(r"(?P<code>[A-Za-z0-9][A-Za-z0-9._-]*?)-(?P<kind>KQ|HS)(?P<number>[1-9][0-9]{0,3})")


def nfc(text: str) -> str:
    """Vietnamese text is kept in Unicode NFC everywhere."""
    return unicodedata.normalize("NFC", text)


def check_code(value: str, what: str = "dossier code") -> str:
    """Return ``value`` if it is a safe code (letters, digits, '.', '_', '-'), else raise.

    Codes become parts of archive keys and file names: no path separators,
    no '..', nothing outside the allowed set.
    """
    if not isinstance(value, str) or not _CODE.fullmatch(value) or ".." in value:
        raise BadInputError(
            f"{what} {value!r} is not allowed: use letters, digits, '.', '_' and '-' "
            "(at most 64, starting with a letter or digit)"
        )
    return value


def check_office(value: str) -> str:
    """Return ``value`` if it is a valid office code (lower-case slug), else raise."""
    if not isinstance(value, str) or not _OFFICE.fullmatch(value):
        raise BadInputError(f"office code {value!r} is not allowed: use lower-case letters, digits and '-'")
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
        if self.kind not in KINDS:
            raise BadInputError(f"kind {self.kind!r} must be KQ (result) or HS (dossier paper)")
        if not 1 <= self.number <= 9999:
            raise BadInputError(f"document number {self.number} must be between 1 and 9999")
        if self.procedure_code is not None:
            check_code(self.procedure_code, "procedure code")
        if self.title is not None:
            object.__setattr__(self, "title", nfc(self.title))

    @property
    def document_code(self) -> str:
        """``<dossier code>-KQ<n>`` or ``<dossier code>-HS<n>``."""
        return f"{self.dossier_code}-{self.kind}{self.number}"


def parse_document_code(name: str) -> tuple[str, str, int]:
    """Split ``000.31.25.H08-261128-0001-KQ1`` into (dossier code, kind, number)."""
    m = _DOCUMENT.fullmatch(name)
    if not m:
        raise BadInputError(
            f"name {name!r} does not follow '<dossier code>-KQ<n>' or '<dossier code>-HS<n>' "
            "(for example 000.31.25.H08-261128-0001-KQ1.pdf)"
        )
    return check_code(m["code"]), m["kind"], int(m["number"])
