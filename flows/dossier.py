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

import functools
import json
from dataclasses import asdict
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_table_artifact

from digitize import engine, intake, tools
from digitize.errors import VerificationError, is_transient
from digitize.models import DocumentMeta
from digitize.settings import Settings, load_settings
from signing.identity import load_signer, resolve_identity
from signing.sign import sign_pdf
from signing.verify import verify_pdf
from storage.archive import open_archive
from storage.catalog import Catalog
from storage.hashing import sha256_bytes
from storage.keys import archive_key, manifest_key
from storage.manifest import build_manifest

VIETNAM = timezone(timedelta(hours=7))
RETRY_DELAYS = [5, 30]


def retry_if_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook signature
    """Retry a task only when its error says a retry may succeed."""
    try:
        state.result()
    except Exception as e:  # noqa: BLE001 - inspected, not swallowed
        return is_transient(e)
    return False


def _settings(config: str | None) -> Settings:
    return load_settings(config)


@functools.cache
def _signer(pkcs12: str, password: bytes | None):  # noqa: ANN202
    """The signing key, loaded once per process and kept for the whole batch."""
    return load_signer(Path(pkcs12), password)


def _read_json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".part")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    tmp.replace(path)


@task(name="scan", tags=["ocr"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def scan(source: str, meta: DocumentMeta, work_dir: str, config: str | None) -> dict[str, Any]:
    """Clean, OCR and assemble the PDF/A; reuses a finished scan in the work folder."""
    done = Path(work_dir) / "scan.json"
    if (found := _read_json(done)) is not None:
        return found
    settings = _settings(config)
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
    }
    _write_json(done, summary)
    return summary


@task(name="sign", tags=["tsa"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def sign(pdf: str, work_dir: str, config: str | None) -> dict[str, Any]:
    """Sign the PDF/A (PAdES); reuses a finished signature in the work folder."""
    done = Path(work_dir) / "sign.json"
    if (found := _read_json(done)) is not None:
        return found
    settings = _settings(config)
    identity = resolve_identity(settings.signing)
    result = sign_pdf(
        Path(pdf),
        Path(work_dir) / "signed.pdf",
        _signer(str(identity.pkcs12), identity.password),
        agency_name=settings.signing.agency_name,
        copy_form=settings.signing.copy_form,
        pades_level=settings.signing.pades_level,
        font_cache_dir=settings.paths.var_dir / "cache" / "fonts",
    )
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
    settings = _settings(config)
    identity = resolve_identity(settings.signing)
    report = verify_pdf(Path(pdf), identity.trust_roots, expected_sha256=sha256)
    if not report.ok:
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.checks if not c.ok)
        raise VerificationError(f"the signed file failed verification: {failed}")


@task(name="archive", tags=["s3"], retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def archive(
    meta: DocumentMeta, signed: dict[str, Any], scanned: dict[str, Any], input_sha256: str, config: str | None
) -> str:
    """Store the signed bytes and the manifest, and check them back; returns the key."""
    settings = _settings(config)
    store = open_archive(settings.archive)
    year = datetime.fromisoformat(signed["signing_time"]).astimezone(VIETNAM).year
    key = archive_key(meta, year)
    store.put_file(key, Path(signed["path"]), signed["sha256"])
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
    )
    store.put_bytes(manifest_key(meta, year), manifest, sha256_bytes(manifest))
    if not store.verify(key, signed["sha256"]):
        raise VerificationError(f"the archived copy under {key} does not match the signed file")
    return key


@task(name="catalog")
def record(
    meta: DocumentMeta, key: str, signed: dict[str, Any], scanned: dict[str, Any], input_sha256: str, config: str | None
) -> None:
    """Add the document to the catalog (idempotent on the input's SHA-256)."""
    settings = _settings(config)
    with Catalog.open(settings.catalog.path) as catalog:
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
def digitize_document(path: str, level: str, office: str, config: str | None = None) -> dict[str, Any]:
    """One input (file or folder) from the inbox: scan, sign, verify, archive, catalog, set aside.

    The input leaves the inbox (to ``done/``) only after its archived copy has
    been read back and matched, and the catalog row written.
    """
    logger = get_run_logger()
    settings = _settings(config)
    item = intake.InboxItem(Path(path), level, office)
    stage = "intake"
    try:
        meta = intake.read_meta(item)
        input_sha = intake.input_sha256(item.path)
        with Catalog.open(settings.catalog.path) as catalog:
            known = catalog.find_by_input_sha256(input_sha)
        if known is not None and known.status == "verified":
            intake.set_aside(item, settings.paths.done)
            logger.info("%s was archived before as %s: set aside as a duplicate", item.name, known.archive_key)
            return _summary(meta, "duplicate", known.archive_key, pages=known.page_count,
                            confidence=known.ocr_confidence, pades_level=known.pades_level)
        work_dir = settings.paths.work / input_sha[:32]
        source = intake.copy_to_work(item, work_dir)
        stage = "ocr"
        scanned = scan(str(source), meta, str(work_dir), config)
        stage = "sign"
        signed = sign(scanned["pdf"], str(work_dir), config)
        stage = "verify"
        verify(signed["path"], signed["sha256"], config)
        stage = "archive"
        key = archive(meta, signed, scanned, input_sha, config)
        stage = "catalog"
        record(meta, key, signed, scanned, input_sha, config)
    except Exception as e:
        if not is_transient(e) and item.path.exists():
            intake.quarantine(item, settings.paths.failed, e, stage=stage)
        raise
    intake.set_aside(item, settings.paths.done)
    logger.info("%s: %d pages, confidence %.1f, archived as %s", meta.document_code, scanned["pages"],
                scanned["confidence"], key)
    return _summary(meta, "archived", key, pages=scanned["pages"], confidence=scanned["confidence"],
                    pades_level=signed["pades_level"], review_pages=scanned["review_pages"],
                    blank_pages=scanned["blank_pages"], below_200dpi=scanned["below_200dpi"])


def _summary(meta: DocumentMeta, status: str, key: str | None, **extra: Any) -> dict[str, Any]:
    return {"document": meta.document_code, "level": meta.level, "office": meta.office, "status": status,
            "key": key, **extra}


@flow(name="process-inbox", log_prints=True)
def process_inbox(
    level: str | None = None,
    office: str | None = None,
    inbox: str | None = None,
    limit: int | None = None,
    config: str | None = None,
) -> list[dict[str, Any]]:
    """Every ready item of the scanner folders (of one level, or all), each in its own child run."""
    logger = get_run_logger()
    settings = _settings(config)
    root = Path(inbox) if inbox else settings.paths.inbox
    levels = [level] if level else list(settings.intake.levels)
    ready, settling = intake.find_items(
        root, levels, office=office, settle_seconds=settings.intake.settle_seconds
    )
    if limit is not None:
        ready = ready[:limit]
    logger.info("%d item(s) ready, %d still being written", len(ready), len(settling))
    results = [_run_one(item, settings, config) for item in ready]
    results += [{"document": i.name, "status": "settling", "level": i.level, "office": i.office} for i in settling]
    _publish(results)
    return results


#: The nightly catch-up of a backlog is the same work on a folder of backlog scans.
catch_up = process_inbox.with_options(name="catch-up")


def _run_one(item: intake.InboxItem, settings: Settings, config: str | None) -> dict[str, Any]:
    state = digitize_document(str(item.path), item.level, item.office, config, return_state=True)
    if not state.is_failed():
        return state.result()
    error = state.result(raise_on_failure=False)
    base = {"document": item.name, "level": item.level, "office": item.office}
    if isinstance(error, BaseException) and is_transient(error):
        return {**base, "status": "retry-later", "reason": str(error)}
    if item.path.exists():
        # The flow failed before it could set the input aside itself (e.g. a crash).
        reason = error if isinstance(error, BaseException) else RuntimeError(state.message or "unknown failure")
        intake.quarantine(item, settings.paths.failed, reason, stage="flow")
    return {**base, "status": "failed", "reason": str(error) if error is not None else state.message}


def _publish(results: list[dict[str, Any]]) -> None:
    columns = ["document", "level", "office", "status", "pages", "confidence", "pades_level", "key", "reason"]
    rows = [{c: r.get(c) for c in columns} for r in results]
    create_table_artifact(rows, key="digitize-run", description="Documents of this run")
