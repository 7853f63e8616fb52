"""A hand-computed catalog for the rates tests: five offices, nine results, twelve documents.

Period end 2025-06-30 (targets 2025: tinh 100, huyen 100, xa 95). Expected figures:

| office  | level | in force | digitized | why |
|---------|-------|----------|-----------|-----|
| prov    | tinh  | 2 (P1, P3) | 1 (P1)  | P2 expired 06-29, P4 resolved after the end, P3's last day is the end |
| dist    | huyen | 1        | 1         | merged office keeps its history |
| comm-a  | xa    | 4        | 1 (A1)    | A2 archived 07-01 00:00 Vietnam time, A3 failed, A4 only archived |
| comm-r  | xa    | 1        | 1         | remote commune |
| empty   | xa    | 0        | 0         | an office with no inventory |

Orphans: ORPHAN-KQ1 and A1's KQ2. Intake: comm-a has an HS document.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from pathlib import Path

from digitize.models import DocumentMeta
from rates.inventory import import_inventory, import_offices
from storage.catalog import Catalog

LEVELS = ("tinh", "huyen", "xa")

OFFICES_CSV = """code,name,level,area_type,status,merged_into
prov,Trung tâm Phục vụ hành chính công tỉnh,tinh,urban,active,
dist,UBND huyện Cũ,huyen,rural,merged,
comm-a,UBND xã A,xa,rural,active,
comm-r,UBND xã Vùng Xa,xa,remote,active,
empty,UBND phường Trống,xa,urban,active,
"""

INVENTORY_CSV = """dossier_code,procedure_code,office_code,level,received_date,resolved_date,result_no,valid_until
P1,1.001,prov,tinh,2025-01-08,2025-01-10,1,
P2,1.001,prov,tinh,2025-01-30,2025-02-01,1,2025-06-29
P3,1.001,prov,tinh,2025-02-27,2025-03-01,1,2025-06-30
P4,1.001,prov,tinh,2025-07-01,2025-07-05,1,
D1,1.002,dist,huyen,2024-04-28,2024-05-01,1,
A1,1.003,comm-a,xa,2025-01-02,2025-01-05,1,
A2,1.003,comm-a,xa,2025-01-03,2025-01-06,1,
A3,1.003,comm-a,xa,2025-01-04,2025-01-07,1,
A4,1.003,comm-a,xa,2025-01-05,2025-01-08,1,
R1,1.004,comm-r,xa,2025-01-30,2025-02-02,1,
"""

# (dossier, kind, number, level, office, status, archived_at UTC)
DOCUMENTS = (
    ("P1", "KQ", 1, "tinh", "prov", "verified", "2025-06-20T03:00:00Z"),
    ("P2", "KQ", 1, "tinh", "prov", "verified", "2025-03-01T03:00:00Z"),
    ("D1", "KQ", 1, "huyen", "dist", "verified", "2025-01-15T03:00:00Z"),
    ("A1", "KQ", 1, "xa", "comm-a", "verified", "2025-06-30T16:59:59Z"),
    ("A2", "KQ", 1, "xa", "comm-a", "verified", "2025-06-30T17:00:00Z"),
    ("A3", "KQ", 1, "xa", "comm-a", "failed", "2025-06-01T03:00:00Z"),
    ("A4", "KQ", 1, "xa", "comm-a", "archived", "2025-06-01T03:00:00Z"),
    ("R1", "KQ", 1, "xa", "comm-r", "verified", "2025-06-10T03:00:00Z"),
    ("A1", "KQ", 2, "xa", "comm-a", "verified", "2025-05-01T03:00:00Z"),
    ("ORPHAN", "KQ", 1, "xa", "comm-a", "verified", "2025-05-02T03:00:00Z"),
    ("A1", "HS", 1, "xa", "comm-a", "verified", "2025-01-05T03:00:00Z"),
    ("LATE", "KQ", 1, "xa", "comm-a", "verified", "2025-08-01T03:00:00Z"),
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


def record(catalog: Catalog, dossier: str, kind: str, number: int, level: str, office: str, status: str,
           archived_at: str) -> None:
    """Record one document as the pipeline would, at a chosen archive time."""
    meta = DocumentMeta(dossier, kind, number, level, office)
    sha = hashlib.sha256(meta.document_code.encode()).hexdigest()
    catalog.record_document(
        meta, input_sha256=sha, output_sha256=sha, archive_key=f"{level}/{office}/2025/{dossier}/{meta.document_code}.pdf",
        page_count=1, ocr_confidence=90.0, pades_level="B-B", signer="test", signed_at=utc(archived_at),
        status=status, digitized_at=utc(archived_at), archived_at=utc(archived_at),
    )


def build_catalog(folder: Path) -> Catalog:
    """The fixture catalog under ``folder`` (open; close it after use)."""
    (folder / "offices.csv").write_text(OFFICES_CSV, encoding="utf-8")
    (folder / "inventory.csv").write_text(INVENTORY_CSV, encoding="utf-8")
    catalog = Catalog.open(folder / "catalog.sqlite")
    import_offices(catalog, folder / "offices.csv", LEVELS)
    import_inventory(catalog, folder / "inventory.csv", LEVELS)
    for document in DOCUMENTS:
        record(catalog, *document)
    return catalog
