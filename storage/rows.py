"""The catalog's rows as typed values: what a document and an event of the catalog hold."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from storage.times import from_utc_text

DOCUMENT_STATUSES = ("archived", "verified", "failed")
# Statuses that count as digitized in rates: the signed file is in the archive.
DIGITIZED_STATUSES = ("archived", "verified")


@dataclass(frozen=True)
class DocumentRow:
    """One row of ``documents``: a digitized, signed and archived document."""

    id: int
    document_code: str
    dossier_code: str
    kind: str
    number: int
    level: str
    office_code: str
    input_sha256: str
    output_sha256: str | None
    archive_key: str | None
    page_count: int | None
    ocr_confidence: float | None
    pades_level: str | None
    signer: str | None
    status: str
    digitized_at: datetime
    signed_at: datetime | None
    archived_at: datetime | None
    title: str | None


@dataclass(frozen=True)
class EventRow:
    """One row of ``events``; ``detail`` is the decoded JSON object."""

    id: int
    at: datetime
    document_code: str | None
    kind: str
    detail: dict[str, Any]


def document_row(row: tuple[Any, ...]) -> DocumentRow:
    """A ``documents`` row as the database gives it, its times read back."""
    values = dict(zip(DocumentRow.__dataclass_fields__, row, strict=True))
    for name in ("digitized_at", "signed_at", "archived_at"):
        values[name] = from_utc_text(values[name])
    return DocumentRow(**values)
