"""The metadata manifest archived beside each signed PDF (``manifest.json``).

The manifest is deterministic: the same inputs give the same bytes (sorted
keys, no "written at" time), so a re-run re-puts identical bytes and the
archive treats it as a no-op instead of refusing a different manifest.

A document digitized from an input that already carried a digital signature
lists the originals archived beside it (``signed_originals``: key and SHA-256
of each, in input order). Other documents have no such field, so their
manifests stay byte for byte what they were before it existed. Likewise
``grey_pages`` (pages scanned without colour, which Decree 30/2020 asks for)
appears only when there are any.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from digitize.errors import BadInputError
from digitize.i18n import _
from digitize.models import DocumentMeta, nfc
from storage.hashing import check_sha256
from storage.keys import check_key
from storage.times import to_utc_text

MANIFEST_VERSION = 1


def build_manifest(
    meta: DocumentMeta,
    *,
    page_count: int,
    ocr_confidence: float | None,
    pades_level: str,
    signer: str,
    signing_time: datetime,
    tool_versions: dict[str, str],
    input_sha256: str,
    output_sha256: str,
    signed_originals: Sequence[tuple[str, str]] = (),
    grey_pages: Sequence[int] = (),
) -> bytes:
    """The manifest of one archived document: UTF-8 JSON, NFC text, sorted keys, indent 2.

    ``signed_originals`` are the (key, SHA-256) of the signed inputs archived
    untouched beside the document, if any; ``grey_pages`` the numbers of its
    pages scanned without colour (:attr:`digitize.engine.ScanResult.grey_pages`).
    """
    if isinstance(page_count, bool) or not isinstance(page_count, int) or page_count < 1:
        raise BadInputError(_("page count {page_count!r} must be a positive integer", page_count=page_count))
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "dossier_code": meta.dossier_code,
        "procedure_code": meta.procedure_code,
        "level": meta.level,
        "office": meta.office,
        "kind": meta.kind,
        "number": meta.number,
        "document_code": meta.document_code,
        "title": meta.title,
        "page_count": page_count,
        "ocr_confidence": ocr_confidence,
        "pades_level": pades_level,
        "signer": signer,
        "signing_time": to_utc_text(signing_time),
        "tool_versions": dict(tool_versions),
        "input_sha256": check_sha256(input_sha256),
        "output_sha256": check_sha256(output_sha256),
    }
    if signed_originals:
        manifest["signed_originals"] = [
            {"key": check_key(key), "sha256": check_sha256(sha256)} for key, sha256 in signed_originals
        ]
    if grey_pages:
        manifest["grey_pages"] = _page_numbers(grey_pages, page_count)
    text = json.dumps(_nfc_all(manifest), ensure_ascii=False, sort_keys=True, indent=2)
    return (text + "\n").encode("utf-8")


def _page_numbers(pages: Sequence[int], page_count: int) -> list[int]:
    """``pages`` sorted, each checked to be a page of the document."""
    for page in pages:
        if isinstance(page, bool) or not isinstance(page, int) or not 1 <= page <= page_count:
            raise BadInputError(_("page number {page!r} is not a page of a {page_count}-page document",
                                  page=page, page_count=page_count))
    return sorted(set(pages))


def _nfc_all(value: Any) -> Any:
    """``value`` with every string in it (keys included) normalized to NFC."""
    if isinstance(value, str):
        return nfc(value)
    if isinstance(value, dict):
        return {nfc(str(k)): _nfc_all(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nfc_all(v) for v in value]
    return value
