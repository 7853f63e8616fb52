"""Prefect flows: thin wrappers that read the settings at the edge and call the library.

``process_inbox`` takes every ready item from the scanner folders of the
levels asked for and runs ``digitize_document`` on each, one child flow run
per document (named ``<level>/<office>/<document>``), tasks per stage.

Each stage writes its result into the document's work folder
(``work/<input sha256>/``), so a re-run after a crash picks up where it
stopped: the scan and the signature are not redone, and the archive's
"same bytes, same key" no-op means nothing is written twice.

Tasks pass paths, keys and hashes, never images or clients. Only transient
errors (timeouts, an unreachable archive or timestamp authority) are retried;
a transient failure leaves the input in the inbox for the next run, any other
failure moves it to ``failed/`` with a reason a clerk can read.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import socket
import time
from collections.abc import Callable
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_progress_artifact, create_table_artifact, update_progress_artifact

from digitize import engine, intake, split, tools
from digitize.errors import BadInputError, BatchError, VerificationError, is_transient
from digitize.files import write_atomically
from digitize.models import VIETNAM, DocumentMeta, parse_document_code
from digitize.settings import Settings, load_settings
from signing.session import SigningSession, open_signing_session
from storage.archive import ArchiveItem, open_archive
from storage.catalog import open_catalog
from storage.hashing import sha256_bytes, sha256_file
from storage.keys import archive_key, manifest_key, signed_original_keys
from storage.manifest import build_manifest

RETRY_DELAYS = [5, 30]


def retry_if_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook signature
    """Retry a task only when its error says a retry may succeed."""
    try:
        state.result()
    except Exception as e:  # noqa: BLE001 - inspected, not swallowed
        return is_transient(e)
    return False


@functools.cache
def _session(config: str | None) -> SigningSession:
    """The signing session (key, TSA client, validation context), opened once per process.

    Kept for every document of the batch the process runs; a token's session
    is logged out when the process exits.
    """
    settings = load_settings(config)
    session = open_signing_session(settings.signing, font_cache_dir=settings.paths.var_dir / "cache" / "fonts")
    atexit.register(session.close)
    return session


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    write_atomically(path, json.dumps(data, ensure_ascii=False, indent=2, default=str).encode("utf-8"))


@task(name="scan", tags=["ocr"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def scan(source: str, meta: DocumentMeta, work_dir: str, config: str | None) -> dict[str, Any]:
    """Clean, OCR and assemble the PDF/A; reuses a finished scan in the work folder.

    A signed input digitized under ``ocr.signed_input = "keep-original"`` is
    passed on as its path in the work folder and its SHA-256, for the archive.
    """
    done = Path(work_dir) / "scan.json"
    # A scan.json from before signed originals were archived does not say whether there was one: scan again.
    if (found := _read_json(done)) is not None and "signed_originals" in found:
        return found
    settings = load_settings(config)
    result = engine.scan_to_pdfa(
        Path(source), meta, Path(work_dir), settings.ocr, default_dpi=settings.intake.default_dpi
    )
    summary = {
        "pdf": str(result.pdf),
        "pages": result.page_count,
        "confidence": result.confidence,
        "review_pages": result.review_pages(settings.ocr.min_confidence),
        "blank_pages": [p.number for p in result.pages if p.blank],
        "below_200dpi": [p.number for p in result.pages if not p.meets_decree30],
        "page_reports": [asdict(p) for p in result.pages],
        "signed_originals": [{"path": str(p), "sha256": sha256_file(p)} for p in result.signed_originals],
    }
    _write_json(done, summary)
    return summary


@task(name="sign", tags=["tsa"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def sign(pdf: str, work_dir: str, config: str | None) -> dict[str, Any]:
    """Sign the PDF/A (PAdES); reuses a finished signature in the work folder."""
    done = Path(work_dir) / "sign.json"
    if (found := _read_json(done)) is not None:
        return found
    result = _session(config).sign(Path(pdf), Path(work_dir) / "signed.pdf")
    summary = {
        "path": str(result.path),
        "sha256": result.sha256,
        "signer": result.signer,
        "signing_time": result.signing_time.isoformat(),
        "pades_level": result.pades_level,
    }
    _write_json(done, summary)
    return summary


@task(name="verify")
def verify(pdf: str, sha256: str, config: str | None) -> None:
    """Verify the signed file before it is archived; raises if any check fails."""
    report = _session(config).verify(Path(pdf), expected_sha256=sha256)
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        raise VerificationError(f"the signed file failed verification: {failed}")


@task(name="archive", tags=["s3"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def archive(
    meta: DocumentMeta, signed: dict[str, Any], scanned: dict[str, Any], input_sha256: str, config: str | None
) -> str:
    """Store the signed bytes, the signed originals kept (if any) and the manifest, and check
    them back; returns the key of the signed PDF."""
    settings = load_settings(config)
    store = open_archive(settings.archive)
    year = datetime.fromisoformat(signed["signing_time"]).astimezone(VIETNAM).year
    key = archive_key(meta, year)
    kept = scanned["signed_originals"]
    originals = [
        ArchiveItem(original_key, original["sha256"], path=Path(original["path"]))
        for original_key, original in zip(signed_original_keys(meta, year, len(kept)), kept, strict=True)
    ]
    manifest = build_manifest(
        meta,
        page_count=scanned["pages"],
        ocr_confidence=scanned["confidence"],
        pades_level=signed["pades_level"],
        signer=signed["signer"],
        signing_time=datetime.fromisoformat(signed["signing_time"]),
        tool_versions=tools.tool_versions(),
        input_sha256=input_sha256,
        output_sha256=signed["sha256"],
        signed_originals=[(item.key, item.sha256) for item in originals],
    )
    # One call: each check-back HEAD runs while the next object is sent; all are checked when it returns.
    # The manifest goes last, after everything it names.
    store.put_many([
        ArchiveItem(key, signed["sha256"], path=Path(signed["path"])),
        *originals,
        ArchiveItem(manifest_key(meta, year), sha256_bytes(manifest), data=manifest),
    ])
    if not store.verify(key, signed["sha256"]):
        raise VerificationError(f"the archived copy under {key} does not match the signed file")
    for item in originals:
        if not store.verify(item.key, item.sha256):
            raise VerificationError(f"the archived copy under {item.key} does not match the signed original")
        get_run_logger().info("%s: the signed original is kept untouched as %s", meta.document_code, item.key)
    return key


@task(name="catalog")
def record(
    meta: DocumentMeta, key: str, signed: dict[str, Any], scanned: dict[str, Any], input_sha256: str, config: str | None
) -> None:
    """Add the document to the catalog (idempotent on the input's SHA-256)."""
    settings = load_settings(config)
    with open_catalog(settings.catalog) as catalog:
        catalog.record_document(
            meta,
            input_sha256=input_sha256,
            output_sha256=signed["sha256"],
            archive_key=key,
            page_count=scanned["pages"],
            ocr_confidence=scanned["confidence"],
            pades_level=signed["pades_level"],
            signer=signed["signer"],
            signed_at=datetime.fromisoformat(signed["signing_time"]),
        )
        catalog.add_event("archived", meta.document_code, key=key, sha256=signed["sha256"])


def _document_run_name() -> str:
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"{p['level']}/{p['office']}/{Path(p['path']).name}"


@flow(name="digitize-document", flow_run_name=_document_run_name, log_prints=True)
def digitize_document(path: str, level: str, office: str, config: str | None = None) -> list[dict[str, Any]]:
    """One claimed input (a file, a folder, or a batch with QR cover sheets), to the archive.

    Returns one summary per document. The input leaves the scanner folder (to
    ``done/``) only after every archived copy has been read back and matched
    and its catalog row written; a failure moves it to ``failed/`` with the
    reason, the stage and the exit code, except a transient failure, which
    leaves it for the next run.
    """
    settings = load_settings(config)
    item = intake.InboxItem(Path(path), level, office)
    stage = "intake"
    try:
        if _is_batch(item, settings):
            stage = "split"
            summaries = _digitize_batch(item, settings, config)
        else:
            meta = intake.read_meta(item)
            summaries = [_digitize_one(item.path, meta, settings, config)]
    except Exception as e:
        stage = getattr(e, "stage", stage)
        if not is_transient(e) and item.path.exists():
            intake.quarantine(item, settings.paths.failed, e, stage=stage)
        raise
    intake.set_aside(item, settings.paths.done)
    return summaries


def _is_batch(item: intake.InboxItem, settings: Settings) -> bool:
    """A file not named as a document whose first page is a QR cover sheet."""
    if not item.path.is_file():
        return False
    try:
        parse_document_code(item.stem)
        return False
    except BadInputError:
        return split.has_cover_first(item.path, timeout=settings.ocr.timeout_seconds)


def _digitize_batch(item: intake.InboxItem, settings: Settings, config: str | None) -> list[dict[str, Any]]:
    """Cut a batch at its cover sheets and digitize each part; all parts must succeed."""
    batch_sha = intake.input_sha256(item.path)
    covers = split.read_covers(item.path, timeout=settings.ocr.timeout_seconds)
    segments = split.plan_split(covers)
    parts = split.cut(item.path, segments, settings.paths.work / batch_sha[:32] / "split")
    get_run_logger().info("%s: %d cover sheet(s), %d document(s)", item.name, len(segments), len(parts))
    summaries, failures = [], []
    for segment, part in zip(segments, parts, strict=True):
        cover = segment.cover
        meta = DocumentMeta(cover.dossier_code, cover.kind, cover.number, item.level, item.office,
                            procedure_code=cover.procedure_code)
        try:
            summaries.append(_digitize_one(part, meta, settings, config))
        except Exception as e:
            if is_transient(e):
                raise
            failures.append(f"{meta.document_code} ({getattr(e, 'stage', 'digitize')}): {e}")
    if failures:
        error = BatchError(f"{len(failures)} of {len(parts)} document(s) of the batch failed: " + "; ".join(failures))
        error.stage = "batch"  # type: ignore[attr-defined]
        raise error
    return summaries


def _digitize_one(source: Path, meta: DocumentMeta, settings: Settings, config: str | None) -> dict[str, Any]:
    """Scan, sign, verify, archive and catalog one document; a known input is a duplicate."""
    logger = get_run_logger()
    stage = "intake"
    try:
        input_sha = intake.input_sha256(source)
        with open_catalog(settings.catalog) as catalog:
            known = catalog.find_by_input_sha256(input_sha)
        if known is not None and known.status == "verified":
            logger.info("%s was archived before as %s: a duplicate", meta.document_code, known.archive_key)
            return _summary(meta, "duplicate", known.archive_key, pages=known.page_count,
                            confidence=known.ocr_confidence, pades_level=known.pades_level)
        work_dir = settings.paths.work / input_sha[:32]
        copy = intake.copy_to_work(intake.InboxItem(source, meta.level, meta.office), work_dir)
        stage = "ocr"
        scanned = scan(str(copy), meta, str(work_dir), config)
        stage = "sign"
        signed = sign(scanned["pdf"], str(work_dir), config)
        stage = "verify"
        verify(signed["path"], signed["sha256"], config)
        stage = "archive"
        key = archive(meta, signed, scanned, input_sha, config)
        stage = "catalog"
        record(meta, key, signed, scanned, input_sha, config)
    except Exception as e:
        e.stage = getattr(e, "stage", stage)  # type: ignore[attr-defined]
        raise
    logger.info("%s: %d pages, confidence %.1f, archived as %s", meta.document_code, scanned["pages"],
                scanned["confidence"], key)
    return _summary(meta, "archived", key, pages=scanned["pages"], confidence=scanned["confidence"],
                    pades_level=signed["pades_level"], review_pages=scanned["review_pages"],
                    blank_pages=scanned["blank_pages"], below_200dpi=scanned["below_200dpi"])


def _summary(meta: DocumentMeta, status: str, key: str | None, **extra: Any) -> dict[str, Any]:
    return {"document": meta.document_code, "level": meta.level, "office": meta.office, "status": status,
            "key": key, **extra}


#: Called with (done, total, summaries of the item just finished) as a run goes; the CLI's
#: progress bar listens here. Runs in the flow's process, so listeners see nothing of remote runs.
PROGRESS_LISTENERS: list[Callable[[int, int, list[dict[str, Any]]], None]] = []


@flow(name="process-inbox", log_prints=True)
def process_inbox(
    level: str | None = None,
    office: str | None = None,
    inbox: str | None = None,
    limit: int | None = None,
    config: str | None = None,
    dry_run: bool = False,
    only: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Every ready item of the scanner folders (of one level, or all), each in its own child run.

    ``only``, a work list of document codes (e.g. the rates report's backlog),
    restricts the run to the items named so.
    """
    settings = load_settings(config)
    root = Path(inbox) if inbox else settings.paths.inbox
    return _process(root, level, office, limit, settings, config, dry_run, only)


@flow(name="catch-up", log_prints=True)
def catch_up(
    level: str, office: str | None = None, limit: int | None = None, config: str | None = None
) -> list[dict[str, Any]]:
    """The backlog of one level from ``paths.backlog`` (laid out like the inbox)."""
    settings = load_settings(config)
    return _process(settings.paths.backlog, level, office, limit, settings, config, dry_run=False)


def _process(
    root: Path, level: str | None, office: str | None, limit: int | None, settings: Settings,
    config: str | None, dry_run: bool, only: list[str] | None = None,
) -> list[dict[str, Any]]:
    logger = get_run_logger()
    levels = [level] if level else list(settings.intake.levels)
    if not dry_run:
        released = intake.release_stale_claims(
            root, levels, host=socket.gethostname(), is_alive=_pid_alive,
            timeout_seconds=settings.intake.claim_timeout_seconds, now=time.time(),
        )
        for item in released:
            logger.warning("%s was claimed by a worker that stopped; put back in the inbox", item.name)
    ready, settling = intake.find_items(root, levels, office=office, settle_seconds=settings.intake.settle_seconds)
    if only is not None:
        wanted = set(only)
        ready = [item for item in ready if item.stem in wanted]
    if limit is not None:
        ready = ready[:limit]
    logger.info("%d item(s) ready in %s, %d still being written", len(ready), root, len(settling))
    if dry_run:
        return [_preview(item) for item in ready] + [_settling(i) for i in settling]
    progress = create_progress_artifact(0.0, key="digitize-progress", description="Items of this run done")
    results: list[dict[str, Any]] = []
    for done, item in enumerate(ready, 1):
        summaries = _run_one(item, settings, config)
        results += summaries
        update_progress_artifact(progress, 100.0 * done / len(ready))
        for listener in PROGRESS_LISTENERS:
            listener(done, len(ready), summaries)
    results += [_settling(i) for i in settling]
    _publish(results)
    return results


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _preview(item: intake.InboxItem) -> dict[str, Any]:
    base = {"document": item.name, "level": item.level, "office": item.office}
    try:
        meta = intake.read_meta(item)
    except BadInputError as e:
        return {**base, "status": "would-check", "reason": f"not named as a document: {e.message}"}
    return {**base, "document": meta.document_code, "status": "would-digitize"}


def _settling(item: intake.InboxItem) -> dict[str, Any]:
    return {"document": item.name, "status": "settling", "level": item.level, "office": item.office,
            "reason": "still being written; taken on a later run"}


def _run_one(item: intake.InboxItem, settings: Settings, config: str | None) -> list[dict[str, Any]]:
    base = {"document": item.name, "level": item.level, "office": item.office}
    first = intake.file_state(item.path)
    time.sleep(min(0.2, settings.intake.settle_seconds))
    if not intake.is_settled(first, intake.file_state(item.path), time.time(), settings.intake.settle_seconds):
        return [{**base, "status": "settling", "reason": "still being written; taken on a later run"}]
    owner = intake.Owner(socket.gethostname(), os.getpid(), time.time())
    claimed = intake.claim(item, owner)
    if claimed is None:
        return [{**base, "status": "taken", "reason": "claimed by another worker"}]
    state = digitize_document(str(claimed.path), item.level, item.office, config, return_state=True)
    if not state.is_failed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException) and is_transient(error):
        intake.unclaim(claimed)
        return [{**base, "status": "retry-later", "reason": str(error)}]
    if claimed.path.exists():
        # The flow failed before it could set the input aside itself (e.g. a crash).
        reason = error if isinstance(error, BaseException) else RuntimeError(state.message or "unknown failure")
        intake.quarantine(claimed, settings.paths.failed, reason, stage="flow")
    return [{**base, "status": "failed", "reason": str(error) if error is not None else state.message,
             "stage": getattr(error, "stage", None)}]


def _publish(results: list[dict[str, Any]]) -> None:
    columns = ["document", "level", "office", "status", "pages", "confidence", "pades_level", "key", "reason"]
    rows = [{c: r.get(c) for c in columns} for r in results]
    create_table_artifact(rows, key="digitize-run", description="Documents of this run")
