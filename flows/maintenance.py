"""Prefect flows that keep the archive sound: fixity checks and archive-timestamp renewal.

Thin wrappers: :func:`storage.fixity.check_fixity` re-reads archived objects
and compares their SHA-256 with the catalog and the manifests;
:func:`signing.renew.renew_timestamp` adds a fresh document timestamp to a
B-LTA file that :func:`signing.renew.renewal_need` finds due. The archive is write-once, so a renewed file is stored under a key
of its own beside the original (``<document code>.renewed-<yyyymmdd>.pdf``)
and the catalog is pointed at it; the original stays as it was.
"""

from __future__ import annotations

import json
import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from digitize.errors import ArchiveError, VerificationError
from digitize.i18n import _, format_number, ngettext
from digitize.models import VIETNAM
from flows import flow_settings
from flows.dossier import RETRY_DELAYS, _rename_run, _session, retry_if_transient
from signing.identity import resolve_identity
from signing.renew import parse_sunsets, renew_timestamp, renewal_blockers, renewal_need
from signing.trust import load_trust_roots
from storage.archive import open_archive
from storage.catalog import open_catalog
from storage.fixity import check_fixity, record_fixity_events
from storage.hashing import sha256_bytes
from storage.keys import manifest_key_of, renewed_key


@flow(name="fixity-check", log_prints=True)
def fixity_check(sample: int | None = None, config: str | None = None) -> dict[str, Any]:
    """Re-read archived objects (all, or a random ``sample``) and compare hashes; fails on any problem."""
    settings = flow_settings(config)
    with open_catalog(settings.catalog) as catalog:
        report = check_fixity(open_archive(settings.archive), catalog, sample=sample)
        record_fixity_events(catalog, report)
    columns = (_("document"), _("archive key"), _("problem"), _("detail"))
    rows = [dict(zip(columns, (p.document_code, p.key, p.problem, p.detail), strict=True))
            for p in report.problems]
    checked = ngettext("{n} object checked", "{n} objects checked", report.checked,
                       n=format_number(report.checked))
    create_table_artifact(rows or [dict(zip(columns, ("-", "-", _("none"), ""), strict=True))],
                          key="fixity", description=checked)
    if report.problems:
        _rename_run(_("fixity check — {problems}; {checked}", checked=checked, problems=ngettext(
            "{n} problem", "{n} problems", len(report.problems), n=format_number(len(report.problems)))))
        raise ArchiveError(ngettext(
            "fixity check: {problems} problem among {objects} object(s) checked",
            "fixity check: {problems} problems among {objects} object(s) checked",
            len(report.problems), problems=format_number(len(report.problems)),
            objects=format_number(report.checked)))
    _rename_run(_("fixity check — all sound; {checked}", checked=checked))
    get_run_logger().info("fixity check: %d object(s) checked, all sound", report.checked)
    return {"checked": report.checked, "problems": 0}


@task(name="renew", retries=2, retry_delay_seconds=RETRY_DELAYS,
      retry_condition_fn=retry_if_transient)
def renew_document(document_code: str, config: str | None, within_days: int | None = None) -> dict[str, Any]:
    """Renew one document's archive timestamp if it is due, and archive the renewed copy.

    Returns ``renewed`` (False when not due, with the reason) and the new key.
    """
    settings = flow_settings(config)
    store = open_archive(settings.archive)
    with open_catalog(settings.catalog) as catalog:
        row = catalog.find_document(document_code)
    if row is None or row.archive_key is None:
        raise ArchiveError(_("{code} is not in the catalog", code=document_code))
    data = store.get_bytes(row.archive_key)
    if sha256_bytes(data) != row.output_sha256:
        raise VerificationError(_("{key} does not match the catalog's SHA-256; run a fixity check",
                                  key=row.archive_key))
    need = renewal_need(data, load_trust_roots(resolve_identity(settings.signing).trust_roots),
                        within=timedelta(days=within_days if within_days is not None
                                         else settings.signing.renew_within_days),
                        sunsets=parse_sunsets(settings.signing.algorithm_sunsets))
    if not need.due:
        return {"document": document_code, "renewed": False, "reason": need.reason}
    with tempfile.TemporaryDirectory(prefix="digitize-renew-") as tmp:
        current = Path(tmp) / "current.pdf"
        current.write_bytes(data)
        renewed = renew_timestamp(current, Path(tmp) / "renewed.pdf", settings.signing)
        report = _session(config).verify(renewed.path, expected_sha256=renewed.sha256)
        if blockers := renewal_blockers(report):
            failed = "; ".join(f"{c.name}: {c.detail}" for c in blockers)
            raise VerificationError(_("the renewed file failed verification: {checks}", checks=failed))
        for check in report.failed():
            get_run_logger().warning("%s: %s fails (%s); fixed at signing, the file is renewed all the same",
                                     document_code, check.name, check.detail)
        key = renewed_key(row.archive_key, renewed.renewed_at)
        store.put_file(key, renewed.path, renewed.sha256)
    manifest = renewed_manifest(store.get_bytes(manifest_key_of(row.archive_key)), row.output_sha256,
                                renewed.sha256, renewed.renewed_at)
    store.put_bytes(manifest_key_of(key), manifest, sha256_bytes(manifest))
    if not store.verify(key, renewed.sha256):
        raise VerificationError(_("the archived renewed copy under {key} does not match", key=key))
    with open_catalog(settings.catalog) as catalog:
        catalog.record_renewal(document_code, archive_key=key, output_sha256=renewed.sha256)
    return {"document": document_code, "renewed": True, "reason": need.reason, "key": key,
            "timestamps": renewed.document_timestamps}


def renewed_manifest(original: bytes, old_sha256: str, new_sha256: str, when: datetime) -> bytes:
    """The manifest of the renewed copy: the original's, naming the new bytes and what they renew."""
    data = json.loads(original)
    data.update(output_sha256=new_sha256, renewed_from_sha256=old_sha256,
                renewed_at=when.astimezone(VIETNAM).isoformat(timespec="seconds"))
    return (json.dumps(data, ensure_ascii=False, sort_keys=True, indent=2) + "\n").encode("utf-8")


@flow(name="renew-timestamps", log_prints=True)
def renew_timestamps(level: str | None = None, config: str | None = None,
                     within_days: int | None = None) -> list[dict[str, Any]]:
    """Renew the archive timestamp of every B-LTA document (of one level, or all) that is due.

    Due: its newest timestamp keeps it provable for less than ``within_days``
    (default ``signing.renew_within_days``) or uses an algorithm past its
    sunset. Returns the renewed ones; the artifact also lists why others were not.
    """
    settings = flow_settings(config)
    with open_catalog(settings.catalog) as catalog:
        codes = [d.document_code for d in catalog.documents(level=level)
                 if d.pades_level == "B-LTA" and d.status == "verified"]
    results = [renew_document(code, config, within_days) for code in codes]
    renewed = [r for r in results if r["renewed"]]
    headline = ngettext("Renewed the archive timestamp of {renewed} of {total} B-LTA document.",
                        "Renewed the archive timestamp of {renewed} of {total} B-LTA documents.",
                        len(results), renewed=format_number(len(renewed)), total=format_number(len(results)))
    lines = ["- " + _("{code}: {outcome} ({reason})", code=r["document"], reason=r["reason"],
                      outcome=_("renewed") if r["renewed"] else _("not renewed")) for r in results]
    create_markdown_artifact(headline + "\n\n" + "\n".join(lines), key="renewal",
                             description=_("Archive-timestamp renewal"))
    _rename_run(f"renew-timestamps — {headline}")
    return renewed
