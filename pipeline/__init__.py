"""The document pipeline: one function per step, typed results, no Prefect.

One document goes::

    reserve -> scan -> sign -> verify -> archive -> record -> (input set aside)

Each step takes what it needs and returns a typed result: :class:`ScanSummary`
(scan), :class:`signing.sign.SignResult` (sign), :class:`signing.report.VerifyReport`
(verify), :class:`storage.backend.ArchiveReceipt` (archive), and the whole run of
one document ends as a :class:`DocumentOutcome`. The flows in ``flows/`` wrap
these steps as Prefect tasks; they hold no library work of their own.

This package is the one library that joins the others: it sits above
``signing`` and ``storage`` (which it calls) and below the edges, ``flows`` and
``cli`` (which call it); the ``digitize`` kernel and scan engine, which it also
calls, import none of them.

A document's work happens in a :class:`WorkFolder` named for its identity: the
document code, the SHA-256 of its input and a fingerprint of the settings that
change its output (OCR and signing). A re-run after a crash reuses the folder's
stage checkpoints; a renamed input, another input under the same code, or
changed settings get a folder of their own and never reuse another document's
scan or signature. Folders are 0700 and their files 0600 (copies of citizens'
papers); a document's folder is removed once its input is set aside as done,
and kept for diagnosis on failure until it is older than the age limit.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from digitize import engine, files, intake, tools
from digitize.errors import VerificationError
from digitize.i18n import N_, _, format_number
from digitize.models import VIETNAM, DocumentMeta
from digitize.settings import Settings
from signing.document_check import check_document_identity
from signing.report import VerifyReport
from signing.session import SigningSession
from signing.sign import SignResult
from storage.backend import Archive, ArchiveItem, ArchiveReceipt
from storage.catalog import Catalog, DocumentRow
from storage.hashing import sha256_bytes, sha256_file
from storage.keys import archive_key, manifest_key, signed_original_keys
from storage.manifest import build_manifest

FOLDER_MODE = 0o700
FILE_MODE = 0o600
#: Settings that never change a document's output, nor may be hashed into a folder name.
_NOT_FINGERPRINTED = {
    "pkcs12_password", "pkcs11_pin", "tsa_timeout_seconds", "tsa_retries", "tsa_backoff_seconds",
    "timeout_seconds", "page_timeout_seconds", "workers", "min_confidence",
    "sources",  # where each signing key was read (a file's path, a variable's name), not what it says
}


# --- typed results ------------------------------------------------------------------


@dataclass(frozen=True)
class SignedOriginal:
    """A signed input kept untouched beside its digitized copy (``ocr.signed_input = "keep-original"``)."""

    path: Path
    sha256: str


@dataclass(frozen=True)
class ScanSummary:
    """What the scan step made: the PDF/A and what the pages need a person to know.

    ``pdfa_sha256`` is the SHA-256 of the PDF/A as written, which passed
    ``pikepdf.pdfa`` validation then (the engine writes nothing else); verify
    recognises those bytes in the signed file and does not validate them again.
    """

    pdf: Path
    pages: int
    confidence: float
    review_pages: tuple[int, ...] = ()
    blank_pages: tuple[int, ...] = ()
    below_200dpi: tuple[int, ...] = ()
    grey_pages: tuple[int, ...] = ()
    page_reports: tuple[dict[str, Any], ...] = ()
    signed_originals: tuple[SignedOriginal, ...] = ()
    pdfa_sha256: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (the scan checkpoint)."""
        return json.loads(json.dumps(asdict(self), default=str))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ScanSummary:
        """The summary a checkpoint holds."""
        return cls(
            pdf=Path(data["pdf"]), pages=int(data["pages"]), confidence=float(data["confidence"]),
            review_pages=tuple(data["review_pages"]), blank_pages=tuple(data["blank_pages"]),
            below_200dpi=tuple(data["below_200dpi"]), grey_pages=tuple(data.get("grey_pages", ())),
            page_reports=tuple(data["page_reports"]),
            signed_originals=tuple(SignedOriginal(Path(o["path"]), o["sha256"]) for o in data["signed_originals"]),
            pdfa_sha256=data.get("pdfa_sha256"),
        )


#: Each status of :class:`DocumentOutcome` in words, the one vocabulary of the CLI's summary and the Prefect UI:
#: the term (a table's cell) and, for some, what it means for the input, shown beside the term where there is
#: room (``duplicate (archived before)``). Marked for translation; read them with :func:`status_label`.
STATUS_LABELS: dict[str, tuple[str, str | None]] = {
    "archived": (N_("archived"), None),
    "duplicate": (N_("duplicate"), N_("archived before")),
    "failed": (N_("failed"), N_("set aside in the failed folder")),
    "retry-later": (N_("retry later"), N_("an outage")),
    "settling": (N_("still being written"), None),
    "taken": (N_("taken by another worker"), None),
    "would-digitize": (N_("would be digitized"), None),
    "would-check": (N_("would check"), N_("cut at its cover sheets if it is a batch, else set aside")),
}
#: Statuses counted with their meaning: wherever a run is summed up, an outage is told apart from bad input.
COUNTED_WITH_MEANING = frozenset({"retry-later"})
#: The stages a document goes through, in words (the ``stage`` of an outcome or an error report).
STAGE_LABELS = {
    "intake": N_("intake"),
    "split": N_("cutting the batch"),
    "ocr": N_("OCR"),
    "sign": N_("signing"),
    "verify": N_("verification"),
    "archive": N_("archiving"),
    "catalog": N_("catalog"),
    "batch": N_("batch"),
    "flow": N_("run"),
}


def status_label(status: str, *, meaning: bool = False) -> str:
    """A status of :class:`DocumentOutcome` in the reader's language (an unknown one as it is); with
    ``meaning``, followed by what it means for the input when the table gives that (``retry later (an outage)``)."""
    if status not in STATUS_LABELS:
        return status
    term, note = STATUS_LABELS[status]
    if meaning and note:
        return _("{status} ({meaning})", status=_(term), meaning=_(note))
    return _(term)


def counts_in_words(counts: dict[str, int]) -> str:
    """How many items ended in each status, in :data:`STATUS_LABELS`' order: ``3 archived, 1 retry later
    (an outage)`` (empty when there are none)."""
    order = list(STATUS_LABELS)
    ranked = sorted(counts, key=lambda status: (order.index(status) if status in order else len(order), status))
    return ", ".join(f"{format_number(counts[status])} {status_label(status, meaning=status in COUNTED_WITH_MEANING)}"
                     for status in ranked)


def stage_label(stage: str | None) -> str:
    """A stage in the reader's language (an unknown one as it is, none as "")."""
    if not stage:
        return ""
    return _(STAGE_LABELS[stage]) if stage in STAGE_LABELS else stage


@dataclass(frozen=True)
class DocumentOutcome:
    """How one document (or one inbox item that never became a document) ended, for the run's summary."""

    document: str
    level: str
    office: str
    status: str  # archived, duplicate, failed, retry-later, settling, taken, would-digitize, would-check
    key: str | None = None
    pages: int | None = None
    confidence: float | None = None
    pades_level: str | None = None
    review_pages: tuple[int, ...] = ()
    blank_pages: tuple[int, ...] = ()
    below_200dpi: tuple[int, ...] = ()
    grey_pages: tuple[int, ...] = ()
    reason: str | None = None
    stage: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready summary row (stable keys: the run summary file and the artifacts)."""
        row = asdict(self)
        for name in ("review_pages", "blank_pages", "below_200dpi", "grey_pages"):
            row[name] = list(row[name])
        return row


# --- the work folder ----------------------------------------------------------------


def settings_fingerprint(settings: Settings) -> str:
    """A SHA-256 of the settings that change a document's output (OCR, DPI default, signing); no secrets."""
    parts = {
        "ocr": asdict(settings.ocr),
        "default_dpi": settings.intake.default_dpi,
        "signing": asdict(settings.signing),
    }
    for section in ("ocr", "signing"):
        parts[section] = {k: v for k, v in parts[section].items() if k not in _NOT_FINGERPRINTED}
    return sha256_bytes(json.dumps(parts, sort_keys=True, default=str).encode("utf-8"))


class WorkFolder:
    """One document's work folder: its file names and its stage checkpoints.

    ``work/<document code>-<identity>/`` where the identity hashes the document
    code, the input's SHA-256 and the settings fingerprint. Holds ``input/``
    (the copy worked on), the engine's page files, ``output.pdfa.pdf``,
    ``signed.pdf`` and one ``<stage>.json`` per finished stage.
    """

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def for_document(cls, work_root: Path, meta: DocumentMeta, input_sha256: str, fingerprint: str) -> WorkFolder:
        """The folder of ``meta`` made from the input ``input_sha256`` under settings ``fingerprint``."""
        identity = sha256_bytes(f"{meta.document_code}\0{input_sha256}\0{fingerprint}".encode())
        return cls(work_root / f"{meta.document_code}-{identity[:20]}")

    def __repr__(self) -> str:
        return f"WorkFolder({str(self.root)!r})"

    @property
    def signed_pdf(self) -> Path:
        return self.root / "signed.pdf"

    def create(self) -> WorkFolder:
        """Make the folder (and the work root) readable by this user only."""
        make_private_folder(self.root.parent)
        make_private_folder(self.root)
        return self

    def copy_input(self, item: intake.InboxItem) -> Path:
        """Copy the input into ``input/`` (work is done on a copy) and return the copy.

        A full disk is :class:`digitize.errors.StorageFullError` (transient): the input stays in the inbox.
        """
        with files.storage_guard(self.root / "input" / item.name):
            return intake.copy_to_work(item, self.root)

    def checkpoint(self, stage: str) -> dict[str, Any] | None:
        """What the finished ``stage`` left, or None when it has not finished here."""
        path = self.root / f"{stage}.json"
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None

    def finish(self, stage: str, data: dict[str, Any]) -> None:
        """Record ``stage`` as finished with ``data``; every file written so far becomes private."""
        files.write_atomically(self.root / f"{stage}.json",
                               json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8"),
                               mode=FILE_MODE)
        self.make_private()

    def make_private(self) -> None:
        """Folders 0700, files 0600, all the way down (tools write their files with the umask's modes)."""
        for path in _walk(self.root):
            mode = FOLDER_MODE if path.is_dir() else FILE_MODE
            if stat.S_IMODE(path.lstat().st_mode) != mode:
                path.chmod(mode)

    def remove(self) -> None:
        """Delete the folder and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)


def make_private_folder(path: Path) -> None:
    """``path`` exists as a folder only its owner can enter."""
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != FOLDER_MODE:
        path.chmod(FOLDER_MODE)


def _walk(root: Path) -> Iterator[Path]:
    if not root.is_dir():
        return
    for folder, dirs, names in os.walk(root):
        base = Path(folder)
        yield base
        for name in names:
            path = base / name
            if not path.is_symlink():
                yield path
        dirs[:] = [d for d in dirs if not (base / d).is_symlink()]


def prune_work(work_root: Path, *, max_age_seconds: float, now: float) -> list[Path]:
    """Remove work folders not touched for ``max_age_seconds`` (kept from failures); returns what went."""
    removed = []
    if not work_root.is_dir():
        return removed
    for folder in sorted(p for p in work_root.iterdir() if p.is_dir() and not p.is_symlink()):
        newest = max((p.lstat().st_mtime for p in _walk(folder)), default=0.0)
        if now - newest >= max_age_seconds:
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


# --- the steps ----------------------------------------------------------------------


def reserve(catalog: Catalog, meta: DocumentMeta, input_sha256: str) -> DocumentRow | None:
    """Hold the document code for this input before any work; the recorded row if it is a duplicate.

    The same scan under another code, another scan under a recorded code, or a
    dossier of another office raise :class:`digitize.errors.DocumentConflictError`.
    """
    return catalog.reserve_document(meta, input_sha256)


def scan(
    source: Path, meta: DocumentMeta, work: WorkFolder, settings: Settings, pool: engine.PagePool | None = None
) -> ScanSummary:
    """Clean, OCR and assemble the PDF/A; a finished scan in the work folder is reused.

    The pages run in ``pool`` (the run's page workers, shared with other documents) when one is given.
    """
    if (found := work.checkpoint("scan")) is not None and Path(found["pdf"]).is_file():
        return ScanSummary.from_json(found)
    result = engine.scan_to_pdfa(
        source, meta, work.root, settings.ocr, default_dpi=settings.intake.default_dpi,
        max_pages=settings.intake.max_pages, pool=pool)
    summary = ScanSummary(
        pdf=result.pdf,
        pages=result.page_count,
        confidence=result.confidence,
        review_pages=tuple(result.review_pages(settings.ocr.min_confidence)),
        blank_pages=tuple(p.number for p in result.pages if p.blank),
        below_200dpi=tuple(p.number for p in result.pages if not p.meets_decree30),
        grey_pages=tuple(result.grey_pages),
        page_reports=tuple(asdict(p) for p in result.pages),
        signed_originals=tuple(SignedOriginal(p, sha256_file(p)) for p in result.signed_originals),
        pdfa_sha256=sha256_file(result.pdf),  # assembly validated these bytes (pikepdf.pdfa.save raises otherwise)
    )
    work.finish("scan", summary.to_json())
    return summary


def sign(scanned: ScanSummary, work: WorkFolder, session: SigningSession) -> SignResult:
    """Sign the PDF/A (PAdES); a finished signature in the work folder whose bytes still match is reused.

    The result carries the scan's ``pdfa_sha256`` (the PDF/A validated at assembly) for :func:`verify`.
    """
    found = work.checkpoint("sign")
    if found is not None and work.signed_pdf.is_file() and sha256_file(work.signed_pdf) == found["sha256"]:
        return SignResult(Path(found["path"]), found["sha256"], found["signer"],
                          datetime.fromisoformat(found["signing_time"]), found["pades_level"],
                          found.get("validated_pdfa_sha256"))
    result = dataclasses.replace(session.sign(scanned.pdf, work.signed_pdf), validated_pdfa_sha256=scanned.pdfa_sha256)
    work.finish("sign", {**asdict(result), "signing_time": result.signing_time.isoformat()})
    return result


def verify(signed: SignResult, meta: DocumentMeta, session: SigningSession) -> VerifyReport:
    """Every check of the signed file, plus that it names itself ``meta``'s document code.

    The PDF/A the signature was made on is not validated again when the signed
    file begins with exactly the bytes validated at assembly
    (``signed.validated_pdfa_sha256``); only what signing added is checked then.
    Raises :class:`VerificationError` naming the failed checks.
    """
    report = session.verify(signed.path, expected_sha256=signed.sha256,
                            validated_pdfa_sha256=signed.validated_pdfa_sha256)
    report = dataclasses.replace(report, checks=(*report.checks, check_document_identity(signed.path,
                                                                                          meta.document_code)))
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed())
        raise VerificationError(_("the signed file failed verification: {checks}", checks=failed))
    return report


def archive(
    meta: DocumentMeta, signed: SignResult, scanned: ScanSummary, input_sha256: str, store: Archive
) -> ArchiveReceipt:
    """Store the signed bytes, the signed originals kept (if any) and the manifest, and check them back.

    One ``put_many``: each check-back HEAD runs while the next object is sent;
    the manifest goes last, after everything it names. Returns the receipt of
    the signed PDF.
    """
    year = signed.signing_time.astimezone(VIETNAM).year
    key = archive_key(meta, year)
    originals = [
        ArchiveItem(original_key, original.sha256, path=original.path)
        for original_key, original in zip(
            signed_original_keys(meta, year, len(scanned.signed_originals)), scanned.signed_originals, strict=True)
    ]
    manifest = build_manifest(
        meta,
        page_count=scanned.pages,
        ocr_confidence=scanned.confidence,
        pades_level=signed.pades_level,
        signer=signed.signer,
        signing_time=signed.signing_time,
        tool_versions=tools.tool_versions(),
        input_sha256=input_sha256,
        output_sha256=signed.sha256,
        signed_originals=[(item.key, item.sha256) for item in originals],
        grey_pages=scanned.grey_pages,
    )
    document = ArchiveItem(key, signed.sha256, path=signed.path)
    receipts = store.put_many([
        document,
        *originals,
        ArchiveItem(manifest_key(meta, year), sha256_bytes(manifest), data=manifest),
    ])
    for item in (document, *originals):
        if not store.verify(item.key, item.sha256):
            raise VerificationError(_("the archived copy under {key} does not match what was signed", key=item.key))
    return receipts[0]


def record(
    catalog: Catalog, meta: DocumentMeta, receipt: ArchiveReceipt, signed: SignResult, scanned: ScanSummary,
    input_sha256: str,
) -> DocumentRow:
    """Add the archived document to the catalog (idempotent on the input's SHA-256) and log the event."""
    row = catalog.record_document(
        meta,
        input_sha256=input_sha256,
        output_sha256=signed.sha256,
        archive_key=receipt.key,
        page_count=scanned.pages,
        ocr_confidence=scanned.confidence,
        pades_level=signed.pades_level,
        signer=signed.signer,
        signed_at=signed.signing_time,
    )
    catalog.add_event("archived", meta.document_code, key=receipt.key, sha256=signed.sha256)
    return row


def archived(meta: DocumentMeta, receipt: ArchiveReceipt, signed: SignResult, scanned: ScanSummary) -> DocumentOutcome:
    """The outcome of a document archived by this run."""
    return DocumentOutcome(
        meta.document_code, meta.level, meta.office, "archived", receipt.key, pages=scanned.pages,
        confidence=scanned.confidence, pades_level=signed.pades_level, review_pages=scanned.review_pages,
        blank_pages=scanned.blank_pages, below_200dpi=scanned.below_200dpi, grey_pages=scanned.grey_pages,
    )


def duplicate(meta: DocumentMeta, known: DocumentRow) -> DocumentOutcome:
    """The outcome of an input archived before under this very code."""
    return DocumentOutcome(
        meta.document_code, meta.level, meta.office, "duplicate", known.archive_key, pages=known.page_count,
        confidence=known.ocr_confidence, pades_level=known.pades_level,
        reason=_("the same scan was archived before as {key}", key=known.archive_key),
    )
