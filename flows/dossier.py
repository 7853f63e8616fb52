"""Prefect flows: thin wrappers that read the settings at the edge and call the library.

``process_inbox`` takes every ready item from the scanner folders of the
levels asked for and runs ``digitize_document`` on each, one child flow run
per document (named ``<level>/<office>/<document>``), two tasks: ``scan``
and ``sign-verify-archive-catalog`` (the document's log line gives each stage's time).

The work is done by :mod:`pipeline` (one function per step, typed
results); the tasks here wrap them. Each stage checkpoints into the
document's work folder (named for its code, its input's SHA-256 and the
settings that change its output), so a re-run after a crash picks up where it
stopped: the scan and the signature are not redone, and the archive's
"same bytes, same key" no-op means nothing is written twice.

Tasks pass paths, keys, hashes and small typed results, never images or clients. Only transient
errors (timeouts, an unreachable archive) are retried; an unreachable timestamp
authority is not, the signing session having tried it already (``signing.tsa_retries``,
:mod:`signing.tsa`); a transient failure leaves the input in the inbox for the next run, any other
failure moves it to ``failed/`` with a reason a clerk can read.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.states import Completed, State

import pipeline
from digitize import engine, intake, split
from digitize.errors import BadInputError, BatchError, StoppedError, TimestampUnavailableError, is_transient
from digitize.i18n import N_, _, format_datetime, format_number, ngettext, to_vietnam_time
from digitize.models import DocumentMeta, parse_document_code
from digitize.settings import Settings
from flows import flow_settings
from signing.session import SigningSession, open_signing_session
from signing.sign import SignResult
from storage.archive import open_archive
from storage.backend import ArchiveReceipt
from storage.catalog import open_catalog

RETRY_DELAYS = [5, 30]


def retry_if_transient(task, task_run, state) -> bool:  # noqa: ANN001 - Prefect's hook signature
    """Retry a task only when its error says a retry may succeed: not when the run itself is stopping, nor
    when the timestamp authority did not answer (:mod:`signing.tsa` already tried it ``signing.tsa_retries``
    + 1 times: one retry layer, so a document asks it at most that often per run; the input then waits
    in the scanner folder for the next run)."""
    try:
        state.result()
    except Exception as e:  # noqa: BLE001 - inspected, not swallowed
        return is_transient(e) and not isinstance(e, (StoppedError, TimestampUnavailableError))
    return False


_sessions: dict[str | None, SigningSession] = {}
_sessions_lock = threading.Lock()


def _session(config: str | None) -> SigningSession:
    """The signing session (key, TSA client, validation context), opened once per process.

    Kept for every document of the batch the process runs; a token's session
    is logged out when the process exits. The CLI, which opens the key before
    the run to check it, hands its session over (:func:`prepared_run`).
    """
    with _sessions_lock:
        if config not in _sessions:
            settings = flow_settings(config)
            session = open_signing_session(settings.signing, font_cache_dir=settings.paths.font_cache)
            atexit.register(session.close)
            _sessions[config] = session
        return _sessions[config]


@contextlib.contextmanager
def prepared_run(config: str | None, session: SigningSession | None, pool: engine.PagePool | None) -> Iterator[None]:
    """Runs in this process inside the block sign with ``session`` and read pages in ``pool``, both
    opened by the caller (the CLI, while the Prefect server starts) and closed by it."""
    global _run_pool
    with _sessions_lock:
        if session is not None:
            _sessions[config] = session
    _run_pool = pool
    try:
        yield
    finally:
        _run_pool = None
        with _sessions_lock:
            if session is not None and _sessions.get(config) is session:
                del _sessions[config]


#: The page workers of the run in progress in this process, shared by its documents in flight (kept out
#: of task arguments: a pool is no task input). None outside a run: a document then makes its own.
_run_pool: engine.PagePool | None = None
#: One signature at a time: a token's PKCS#11 session is not shared across threads.
_signing = threading.Lock()


@dataclass
class _EarlyScan:
    """An input claimed, and its scan begun, before the run's flow started (:func:`early_scans`)."""

    listed: intake.InboxItem  # as the inbox listed it (the summary names it so)
    claimed: intake.InboxItem
    scanned: Future[None]


#: Scans begun while the Prefect server started, by the claimed input's path; each document's flow takes its own.
_early: dict[str, _EarlyScan] = {}


@contextlib.contextmanager
def early_scans(
    settings: Settings, pool: engine.PagePool | None, root: Path | None = None, level: str | None = None,
    office: str | None = None, limit: int | None = None, only: list[str] | None = None,
) -> Iterator[int]:
    """Begin the scans of the run's first documents in ``pool`` (the run's page workers) now, before its
    flow starts: the CLI calls it while the Prefect server starts. Yields how many began.

    The largest ready inputs named as documents (no batches), as many as the run keeps in flight, are
    taken as the flow would take them (a settled look, then a claim) and scanned into their work folders;
    the flow's runs of those documents then wait for their scans, whose checkpoints make their ``scan``
    tasks instant, and do everything else as before (a duplicate's early work is removed). Inputs the flow
    never took (it did not start: the server failed, Ctrl-C) go back to the scanner folder on leaving.
    Without the run's page workers (one worker) nothing is begun.
    """
    if pool is None:
        yield 0
        return
    levels = [level] if level else list(settings.intake.levels)
    ready, _settling_items = intake.find_items(root or settings.paths.inbox, levels, office=office,
                                               settle_seconds=settings.intake.settle_seconds)
    ready = _selected(ready, limit, only)
    workers = engine.worker_count(settings.ocr, 1 << 16)
    count = settings.ocr.documents_in_flight or 4 * workers
    first = [item for item in sorted(ready, key=lambda i: -engine.input_bytes(i.path)) if _is_document(item)][:count]
    taken = _claim_settled(first, settings)
    threads = ThreadPoolExecutor(max(1, len(taken)), thread_name_prefix="early-scan")
    for listed, claimed in taken:
        _early[str(claimed.path)] = _EarlyScan(listed, claimed, threads.submit(_scan_early, claimed, settings, pool))
    try:
        yield len(taken)
    finally:
        left = [_early.pop(str(claimed.path)) for _listed, claimed in taken if str(claimed.path) in _early]
        if any(not early.scanned.done() for early in left):
            pool.terminate()  # the flow never came for them (it did not start, or stopped): stop their pages
        threads.shutdown(wait=True)
        for early in left:
            if os.path.lexists(early.claimed.path):  # not set aside by a flow that failed before its scan
                intake.unclaim(early.claimed)


def _selected(ready: list[intake.InboxItem], limit: int | None, only: list[str] | None) -> list[intake.InboxItem]:
    """The items of a run's work list (``only``), at most ``limit`` of them, in the inbox's order."""
    if only is not None:
        wanted = set(only)
        ready = [item for item in ready if item.stem in wanted]
    return ready if limit is None else ready[:limit]


def _in_inbox_order(items: list[intake.InboxItem], levels: list[str]) -> list[intake.InboxItem]:
    """``items`` as :func:`intake.find_items` lists them: by level as configured, office, then name."""
    return sorted(items, key=lambda i: (levels.index(i.level) if i.level in levels else len(levels), i.office,
                                        i.path.name))


def _is_document(item: intake.InboxItem) -> bool:
    """Named as a document (a batch with cover sheets is split by its flow, never begun early)."""
    try:
        parse_document_code(item.stem)
    except BadInputError:
        return False
    return True


def _claim_settled(
    items: list[intake.InboxItem], settings: Settings
) -> list[tuple[intake.InboxItem, intake.InboxItem]]:
    """Claim those of ``items`` that are settled (one look, a short wait, a second look, as :func:`_run_one`
    does for each); returns (as listed, as claimed) pairs. One not settled, or taken, is left to the flow."""
    try:
        firsts = [intake.file_state(item.path) for item in items]
    except FileNotFoundError:
        return []  # another worker is taking them: leave it all to the flow's own looks
    time.sleep(min(0.2, settings.intake.settle_seconds))
    taken = []
    for item, first in zip(items, firsts, strict=True):
        claimed = _claim_if_settled(item, first, settings)
        if not isinstance(claimed, str):
            taken.append((item, claimed))
    return taken


def _scan_early(claimed: intake.InboxItem, settings: Settings, pool: engine.PagePool) -> None:
    """What the document's flow does up to its scan, without holding its code: its work folder, the copy,
    the scan (checkpointed in the folder). This very scan archived before (a re-drop, or the same scan under
    another code) is not scanned: the flow finds it a duplicate or refuses it. Errors are the flow's to
    report: it meets them again when it waits."""
    intake.check_item(claimed, max_file_mb=settings.intake.max_file_mb)  # refused: the flow says why, no work
    meta = intake.read_meta(claimed)
    input_sha = intake.input_sha256(claimed.path)
    with open_catalog(settings.catalog) as catalog:
        if catalog.find_by_input_sha256(input_sha) is not None:
            return
    work = pipeline.WorkFolder.for_document(settings.paths.work, meta, input_sha,
                                            pipeline.settings_fingerprint(settings)).create()
    copy = work.copy_input(claimed)
    work.make_private()
    pipeline.scan(copy, meta, work, settings, pool)


@task(name="scan", retries=2, retry_delay_seconds=RETRY_DELAYS, retry_condition_fn=retry_if_transient)
def scan(source: str, meta: DocumentMeta, work_dir: str, config: str | None) -> pipeline.ScanSummary:
    """Clean, OCR and assemble the PDF/A (:func:`pipeline.scan`)."""
    return pipeline.scan(Path(source), meta, pipeline.WorkFolder(Path(work_dir)), flow_settings(config), _run_pool)


@task(name="sign-verify-archive-catalog", retries=2, retry_delay_seconds=RETRY_DELAYS,
      retry_condition_fn=retry_if_transient)
def sign_and_archive(
    meta: DocumentMeta, scanned: pipeline.ScanSummary, work_dir: str, input_sha256: str, config: str | None
) -> tuple[SignResult, ArchiveReceipt, str]:
    """Sign the PDF/A (PAdES), verify the signed file, archive it and add it to the catalog; returns the
    signature, the archive's receipt and each stage's time (for the document's log line).

    One task run for the four stages (each task run costs Prefect ~50 ms of CPU and a round of
    state updates; these stages take ~0.1 s each): the document's log line gives each stage's time,
    and a failure says its stage. Every stage is idempotent (the signature is reused from its
    checkpoint, the archive's same bytes under the same key are a no-op, the catalog row is keyed
    by the input's SHA-256), so a retry after a transient fault redoes nothing already done.
    """
    settings = flow_settings(config)
    work = pipeline.WorkFolder(Path(work_dir))
    times: dict[str, float] = {}
    stage = "sign"
    try:
        started = time.perf_counter()
        with _signing:
            signed = pipeline.sign(scanned, work, _session(config))
        times[stage], started, stage = time.perf_counter() - started, time.perf_counter(), "verify"
        pipeline.verify(signed, meta, _session(config))
        times[stage], started, stage = time.perf_counter() - started, time.perf_counter(), "archive"
        receipt = pipeline.archive(meta, signed, scanned, input_sha256, open_archive(settings.archive))
        times[stage], started, stage = time.perf_counter() - started, time.perf_counter(), "catalog"
        with open_catalog(settings.catalog) as catalog:
            pipeline.record(catalog, meta, receipt, signed, scanned, input_sha256)
        times[stage] = time.perf_counter() - started
    except Exception as e:
        e.stage = stage  # type: ignore[attr-defined]
        raise
    for original in scanned.signed_originals:
        get_run_logger().info("%s: the signed original %s is kept untouched beside it", meta.document_code,
                              original.path.name)
    return signed, receipt, ", ".join(f"{name} {seconds:.2f} s" for name, seconds in times.items())


def _document_run_name() -> str:
    """A document's run is named by its document code (the input's name without its file type), then
    where it came from: ``000.31.25.H08-261120-0001-KQ1 (xa/phuoc-loc)``; a batch by its file's name."""
    from prefect.runtime import flow_run

    p = flow_run.parameters
    return f"{intake.InboxItem(Path(p['path']), p['level'], p['office']).stem} ({p['level']}/{p['office']})"


@flow(name="digitize-document", flow_run_name=_document_run_name, log_prints=True)
def digitize_document(path: str, level: str, office: str, config: str | None = None) -> list[dict[str, Any]]:
    """One claimed input (a file, a folder, or a batch with QR cover sheets), to the archive.

    Returns one summary per document. The input leaves the scanner folder (to
    ``done/``) only after every archived copy has been read back and matched
    and its catalog row written; then its work folders are removed (unless
    ``paths.keep_work``). A failure moves it to ``failed/`` with the reason,
    the stage and the exit code and gives up the document codes it held,
    except a transient failure, which leaves it (and its work) for the next run.
    """
    settings = flow_settings(config)
    item = intake.InboxItem(Path(path), level, office)
    held: list[_Held] = []
    stage = "intake"
    try:
        intake.check_item(item, max_file_mb=settings.intake.max_file_mb)
        if _is_batch(item, settings):
            stage = "split"
            outcomes = _digitize_batch(item, settings, config, held)
        else:
            meta = intake.read_meta(item)
            outcomes = [_digitize_one(item.path, meta, settings, config, held)]
    except Exception as e:
        stage = getattr(e, "stage", stage)
        if not is_transient(e):
            _release(held, settings)
            if os.path.lexists(item.path):
                intake.quarantine(item, settings.paths.failed, e, stage=stage)
        _rename_with_outcome("retry-later" if is_transient(e) else "failed")
        raise
    intake.set_aside(item, settings.paths.done)
    if not settings.paths.keep_work:
        for work in {h.work.root: h.work for h in held if h.work is not None}.values():
            work.remove()
    return [outcome.to_dict() for outcome in outcomes]


@dataclass
class _Held:
    """A document code this item holds in the catalog (none for a batch's own folder), and its work folder."""

    meta: DocumentMeta | None
    input_sha256: str
    work: pipeline.WorkFolder | None = None


def _release(held: list[_Held], settings: Settings) -> None:
    """Give up the codes held by an item set aside as failed (those recorded are no longer held)."""
    if held:
        with open_catalog(settings.catalog) as catalog:
            for h in held:
                if h.meta is not None:
                    catalog.release_document(h.meta.document_code, h.input_sha256)


def _is_batch(item: intake.InboxItem, settings: Settings) -> bool:
    """A file not named as a document whose first page is a QR cover sheet."""
    if not item.path.is_file():
        return False
    try:
        parse_document_code(item.stem)
        return False
    except BadInputError:
        return split.has_cover_first(item.path, timeout=settings.ocr.timeout_seconds)


def _digitize_batch(
    item: intake.InboxItem, settings: Settings, config: str | None, held: list[_Held]
) -> list[pipeline.DocumentOutcome]:
    """Cut a batch at its cover sheets and digitize each part; all parts must succeed."""
    batch_sha = intake.input_sha256(item.path)
    covers = split.read_covers(item.path, timeout=settings.ocr.timeout_seconds)
    segments = split.plan_split(covers)
    batch_work = pipeline.WorkFolder(settings.paths.work / f"batch-{batch_sha[:20]}").create()
    parts = split.cut(item.path, segments, batch_work.root / "split")
    batch_work.make_private()
    held.append(_Held(None, batch_sha, batch_work))
    get_run_logger().info("%s: %d cover sheet(s), %d document(s)", item.name, len(segments), len(parts))
    outcomes, failures = [], []
    for segment, part in zip(segments, parts, strict=True):
        cover = segment.cover
        meta = DocumentMeta(cover.dossier_code, cover.kind, cover.number, item.level, item.office,
                            procedure_code=cover.procedure_code)
        try:
            outcomes.append(_digitize_one(part, meta, settings, config, held))
        except Exception as e:
            if is_transient(e):
                raise
            failures.append(f"{meta.document_code} ({pipeline.stage_label(getattr(e, 'stage', 'ocr'))}): {e}")
    if failures:
        error = BatchError(ngettext(
            "{failed} of {total} document of the batch failed: {reasons}",
            "{failed} of {total} documents of the batch failed: {reasons}",
            len(parts), failed=len(failures), total=len(parts), reasons="; ".join(failures),
        ))
        error.stage = "batch"  # type: ignore[attr-defined]
        raise error
    return outcomes


def _digitize_one(
    source: Path, meta: DocumentMeta, settings: Settings, config: str | None, held: list[_Held]
) -> pipeline.DocumentOutcome:
    """Reserve, scan, sign, verify, archive and catalog one document; this very input archived before
    under this code is a duplicate."""
    logger = get_run_logger()
    stage = "intake"
    early = _early.pop(str(source), None)
    try:
        if early is not None:  # its scan began while the Prefect server started; the scan task reuses it
            stage = "ocr"
            early.scanned.result()
            stage = "intake"
        input_sha = intake.input_sha256(source)
        with open_catalog(settings.catalog) as catalog:
            known = pipeline.reserve(catalog, meta, input_sha)
        if known is not None:
            logger.info("%s was archived before as %s: a duplicate", meta.document_code, known.archive_key)
            if early is not None and not settings.paths.keep_work:
                pipeline.WorkFolder.for_document(settings.paths.work, meta, input_sha,
                                                 pipeline.settings_fingerprint(settings)).remove()
            return pipeline.duplicate(meta, known)
        work = pipeline.WorkFolder.for_document(
            settings.paths.work, meta, input_sha, pipeline.settings_fingerprint(settings)).create()
        held.append(_Held(meta, input_sha, work))
        copy = work.copy_input(intake.InboxItem(source, meta.level, meta.office))
        work.make_private()
        stage = "ocr"
        scanned = scan(str(copy), meta, str(work.root), config)
        stage = "sign"
        signed, receipt, times = sign_and_archive(meta, scanned, str(work.root), input_sha, config)
    except Exception as e:
        e.stage = getattr(e, "stage", stage)  # type: ignore[attr-defined]
        raise
    logger.info("%s: %d pages, confidence %.1f, archived as %s (%s)", meta.document_code, scanned.pages,
                scanned.confidence, receipt.key, times)
    return pipeline.archived(meta, receipt, signed, scanned)


#: Called with (done, total, summaries of the item just finished) as a run goes; the CLI's
#: progress bar listens here. Runs in the flow's process, so listeners see nothing of remote runs.
PROGRESS_LISTENERS: list[Callable[[int, int, list[dict[str, Any]]], None]] = []


def _inbox_run_name() -> str:
    """A watcher's run, named at its start for where and when (``inbox-xa 29/11 19:00``, Vietnam time);
    its end adds what it did (:func:`_finish`)."""
    from prefect.runtime import flow_run

    return _run_title("inbox", flow_run.parameters.get("level"))


def _catch_up_run_name() -> str:
    from prefect.runtime import flow_run

    return _run_title("catch-up", flow_run.parameters.get("level"))


def _run_title(kind: str, level: str | None) -> str:
    """``inbox-xa 29/11 19:00``: the kind of run, its level (none: every level) and when it was to start,
    in Vietnam time (the same at the run's start and at its end)."""
    from prefect.runtime import flow_run

    when = flow_run.scheduled_start_time or datetime.now(timezone.utc)
    where = f"{kind}-{level}" if level else kind
    return f"{where} {to_vietnam_time(when):%d/%m %H:%M}"


@flow(name="process-inbox", flow_run_name=_inbox_run_name, log_prints=True)
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
    settings = flow_settings(config)
    root = Path(inbox) if inbox else settings.paths.inbox
    with _named_at_the_end("inbox", level) as finish:
        return finish(_process(root, level, office, limit, settings, config, dry_run, only))


@flow(name="catch-up", flow_run_name=_catch_up_run_name, log_prints=True)
def catch_up(
    level: str, office: str | None = None, limit: int | None = None, config: str | None = None
) -> list[dict[str, Any]]:
    """The backlog of one level from ``paths.backlog`` (laid out like the inbox)."""
    settings = flow_settings(config)
    with _named_at_the_end("catch-up", level) as finish:
        return finish(_process(settings.paths.backlog, level, office, limit, settings, config, dry_run=False))


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
        if not settings.paths.keep_work:
            for folder in pipeline.prune_work(settings.paths.work, now=time.time(),
                                              max_age_seconds=settings.paths.work_max_age_days * 86400):
                logger.info("removed the work folder %s, kept from a failure and now too old", folder.name)
    ready, settling = intake.find_items(root, levels, office=office, settle_seconds=settings.intake.settle_seconds)
    begun = [] if dry_run else [early.listed for early in _early.values()]  # claimed before this flow began
    ready = _in_inbox_order(begun + _selected(ready, None if limit is None else max(0, limit - len(begun)), only),
                            levels)
    logger.info("%d item(s) ready in %s, %d still being written", len(ready), root, len(settling))
    if dry_run:
        return [_preview(item) for item in ready] + [_settling(i) for i in settling]
    if ready:
        # The key is opened (and its password checked) before any input is taken: a wrong password
        # stops the run here, with every input still in the inbox.
        logger.info("signing: %s", _session(config).note)
    progress = create_progress_artifact(0.0, key="digitize-progress", description=_("Items of this run done"))
    by_item: dict[int, list[dict[str, Any]]] = {}
    workers = engine.worker_count(settings.ocr, 1 << 16)
    in_flight = settings.ocr.documents_in_flight or 4 * workers
    pool = _page_pool(workers) if ready else contextlib.nullcontext()
    with pool, ThreadPoolExecutor(in_flight, thread_name_prefix="document") as threads:
        # Each document is its own child flow run, linked to this one through a copy of the run's context.
        # The largest inputs start first: the run's last minutes then hold small documents, whose pages
        # keep both page workers busy to the end (the summary keeps the inbox's order).
        futures = {threads.submit(contextvars.copy_context().run, _run_one, item, settings, config): n
                   for n, item in sorted(enumerate(ready), key=lambda pair: -engine.input_bytes(pair[1].path))}
        shown = _ProgressShown(progress)
        try:
            for done, future in enumerate(as_completed(futures), 1):
                by_item[futures[future]] = summaries = future.result()
                shown.update(done, len(ready))
                for listener in PROGRESS_LISTENERS:
                    listener(done, len(ready), summaries)
        except BaseException:
            # Stopping (a signal, or a document's unexpected error): take nothing more, stop the pages in
            # flight (their documents end as transient, their inputs go back to the scanner folder).
            for future in futures:
                future.cancel()
            if _run_pool is not None:
                _run_pool.terminate()
            raise
    return [summary for n in sorted(by_item) for summary in by_item[n]] + [_settling(i) for i in settling]


class _ProgressShown:
    """The run's progress artifact, brought up to date at most every :attr:`every` seconds and at the end.

    Each update is an API call and an event the server stores: one per document was 43 of each on the
    backlog set, where the UI's progress bar needs a few a minute."""

    every = 5.0

    def __init__(self, artifact_id: Any, clock: Callable[[], float] = time.monotonic) -> None:
        self.artifact_id, self.clock, self.last = artifact_id, clock, clock()

    def update(self, done: int, total: int) -> bool:
        """Show ``done`` of ``total`` if the last update is old enough or all are done; True when shown."""
        now = self.clock()
        if done < total and now - self.last < self.every:
            return False
        update_progress_artifact(self.artifact_id, 100.0 * done / total)
        self.last = now
        return True


@contextlib.contextmanager
def _page_pool(workers: int) -> Iterator[None]:
    """The run's page workers, for every document it takes (one pool, started once)."""
    global _run_pool
    if workers == 1 or _run_pool is not None:
        yield
        return
    with engine.PagePool(workers) as pool:
        _run_pool = pool
        try:
            yield
        finally:
            _run_pool = None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _item_outcome(item: intake.InboxItem, status: str, reason: str | None = None, **extra: Any) -> dict[str, Any]:
    """The summary row of an inbox item that did not (or not yet) become an archived document."""
    return pipeline.DocumentOutcome(item.name, item.level, item.office, status, reason=reason, **extra).to_dict()


def _preview(item: intake.InboxItem) -> dict[str, Any]:
    try:
        meta = intake.read_meta(item)
    except BadInputError as e:
        return _item_outcome(item, "would-check", _("not named as a document: {reason}", reason=e.message))
    return pipeline.DocumentOutcome(meta.document_code, item.level, item.office, "would-digitize").to_dict()


def _settling(item: intake.InboxItem) -> dict[str, Any]:
    return _item_outcome(item, "settling", _("still being written; taken on a later run"))


def _run_one(item: intake.InboxItem, settings: Settings, config: str | None) -> list[dict[str, Any]]:
    early = next((e for e in list(_early.values()) if e.listed.path == item.path), None)
    claimed = early.claimed if early is not None else _settle_and_claim(item, settings)
    if isinstance(claimed, dict):
        return [claimed]
    state = digitize_document(str(claimed.path), item.level, item.office, config, return_state=True)
    if not state.is_failed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if isinstance(error, BaseException) and is_transient(error):
        intake.unclaim(claimed)
        return [_item_outcome(item, "retry-later", str(error))]
    if os.path.lexists(claimed.path):
        # The flow failed before it could set the input aside itself (e.g. a crash).
        reason = error if isinstance(error, BaseException) else RuntimeError(state.message or _("unknown failure"))
        intake.quarantine(claimed, settings.paths.failed, reason, stage="flow")
    return [_item_outcome(item, "failed", str(error) if error is not None else state.message,
                          stage=getattr(error, "stage", None))]


def _settle_and_claim(item: intake.InboxItem, settings: Settings) -> intake.InboxItem | dict[str, Any]:
    """The item claimed for this run once two looks agree, or the summary row saying why not."""
    try:
        first = intake.file_state(item.path)
    except FileNotFoundError:  # another worker claimed it since the folder was listed
        return _item_outcome(item, "taken", _("claimed by another worker"))
    time.sleep(min(0.2, settings.intake.settle_seconds))
    claimed = _claim_if_settled(item, first, settings)
    if claimed == "settling":
        return _settling(item)
    if claimed == "taken":
        return _item_outcome(item, "taken", _("claimed by another worker"))
    return claimed


def _claim_if_settled(item: intake.InboxItem, first: intake.FileState, settings: Settings) -> intake.InboxItem | str:
    """After a first look ``first`` and a short wait, a second look: the item claimed for this run when the
    two agree, else why not: "settling" (still being written) or "taken" (another worker has it)."""
    try:
        second = intake.file_state(item.path)
    except FileNotFoundError:  # another worker claimed it since the folder was listed
        return "taken"
    if not intake.is_settled(first, second, time.time(), settings.intake.settle_seconds):
        return "settling"
    claimed = intake.claim(item, intake.Owner(socket.gethostname(), os.getpid(), time.time()))
    return "taken" if claimed is None else claimed


@contextlib.contextmanager
def _named_at_the_end(kind: str, level: str | None) -> Iterator[Callable[[list[dict[str, Any]]], State]]:
    """Give the block a ``finish(results)`` that publishes the run's artifacts, renames the run for what
    it did and returns its final state; a run stopped by an outage (a transient error before any item
    was done: the catalog, the archive, a full disk) is renamed as one, told apart from bad inputs."""
    started = datetime.now(timezone.utc)
    title = _run_title(kind, level)

    def finish(results: list[dict[str, Any]]) -> State:
        return _finish(title, started, results)

    try:
        yield finish
    except Exception as e:
        if is_transient(e):
            _rename_run(f"{title} — " + _("outage: retry later"))
        raise


#: The summary's columns, in words (the keys of each row stay the stable English ones of the JSON).
_COLUMNS = {
    "document": N_("document"), "level": N_("level"), "office": N_("office"), "status": N_("status"),
    "pages": N_("pages"), "confidence": N_("confidence"), "pades_level": N_("signature level"),
    "key": N_("archive key"), "stage": N_("stage"), "reason": N_("reason"),
}


def _finish(title: str, started: datetime, results: list[dict[str, Any]]) -> State:
    """Publish the run's artifacts (a table of its documents and an overview, in the reader's language,
    Vietnam time), name the run for what it did, and return its final state (its message the same words)."""
    counts = _counts(results)
    what = _what_it_did(counts)
    name = f"{title} — {what}"
    create_table_artifact([_row(r) for r in results], key="digitize-run", description=_("Documents of this run"))
    create_markdown_artifact(_overview(name, started, results, counts), key="digitize-run-overview",
                             description=_("What this run did"))
    _rename_run(name)
    return Completed(message=what, data=results)


def _counts(results: list[dict[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in results:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def _what_it_did(counts: dict[str, int]) -> str:
    """``3 đã lưu trữ, 2 lỗi, 1 thử lại sau (sự cố tạm thời)``: each status that occurred, by count."""
    return pipeline.counts_in_words(counts) or _("nothing ready")


def _row(result: dict[str, Any]) -> dict[str, Any]:
    """One document of the run as a person reads it: columns in words, status in words, decimal comma."""
    shown = dict(result)
    shown["status"] = pipeline.status_label(result["status"], meaning=True)
    shown["stage"] = pipeline.stage_label(result.get("stage"))
    if isinstance(result.get("confidence"), (int, float)):
        shown["confidence"] = format_number(result["confidence"], 1)
    return {_(label): shown.get(column) for column, label in _COLUMNS.items()}


def _overview(name: str, started: datetime, results: list[dict[str, Any]], counts: dict[str, int]) -> str:
    """The run at a glance (markdown): what it did, from when to when, and an outage apart from bad inputs."""
    lines = [f"# {name}", "",
             _("Started {start}, ended {end} (Vietnam time).",
               start=format_datetime(started, seconds=True),
               end=format_datetime(datetime.now(timezone.utc), seconds=True)), ""]
    outage = [r for r in results if r["status"] == "retry-later"]
    bad = [r for r in results if r["status"] == "failed"]
    if outage:
        lines += ["## " + _("Outage: retry later"), "",
                  _("These inputs stay in the scanner folder and are taken again by the next run; "
                    "nothing is wrong with them. Fix the outage (the archive, the catalog, the timestamp "
                    "authority, a full disk) if it lasts."), ""]
        lines += [f"- {r['document']}: {r.get('reason') or ''}" for r in outage] + [""]
    if bad:
        lines += ["## " + _("Set aside in the failed folder"), "",
                  _("Each is in the failed folder with its reason (<name>.error.json): correct it and drop it "
                    "in the scanner folder again."), ""]
        lines += [f"- {r['document']}: {r.get('reason') or ''}" for r in bad] + [""]
    if not outage and not bad and counts:
        lines += [_("No outage and no bad input."), ""]
    return "\n".join(lines)


def _rename_with_outcome(status: str) -> None:
    """Add how a document's run ended to its name: ``... (xa/phuoc-loc) — thử lại sau (sự cố tạm thời)``."""
    from prefect.runtime import flow_run

    if flow_run.name:
        _rename_run(f"{flow_run.name} — {pipeline.status_label(status, meaning=True)}")


def _rename_run(name: str) -> None:
    """Rename the flow run in progress (the Prefect UI lists runs by name).

    A name is only a label: an API that fails to take it is logged, never allowed to replace the
    run's own outcome (a failing rename must not turn an outage into a quarantine)."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.runtime import flow_run

    run_id = flow_run.id
    if run_id is None:
        return
    try:
        with get_client(sync_client=True) as client:
            client.update_flow_run(run_id, name=name)
    except httpx.HTTPError as e:
        get_run_logger().warning("could not rename the run to %r: %s", name, e)
