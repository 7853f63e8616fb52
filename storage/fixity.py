"""Fixity: re-read archived objects and compare them with the catalog and the manifests.

For each document the catalog says is archived, the object under its key is
read again and its SHA-256 recomputed; it must equal the catalog's
``output_sha256``. The manifest beside it must exist, be JSON and name the
same output SHA-256. Anything else is a problem: ``missing`` (no object) or
``corrupt`` (other bytes, an unreadable or disagreeing manifest). A full run
(no sample) also walks the store itself: an object that belongs to no
recorded document (nor to one still being digitized) is ``unrecorded``:
something was written that the catalog does not vouch for.

The check returns a report; it raises only when the archive or the catalog
cannot be reached at all.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass

from digitize.errors import BadInputError
from digitize.i18n import _
from storage.backend import Archive
from storage.catalog import DIGITIZED_STATUSES, Catalog
from storage.hashing import check_sha256
from storage.keys import check_key, manifest_key_of

MISSING = "missing"
CORRUPT = "corrupt"
UNRECORDED = "unrecorded"
#: The document code at the start of an archived object's file name (the PDF, its manifest, its
#: signed originals, a renewed copy): ``<dossier code>-KQ<n>`` or ``-HS<n>``, then a dot.
_OBJECT_DOCUMENT = re.compile(r"(?P<code>.+?-(?:KQ|HS)[1-9][0-9]{0,3})\.")


@dataclass(frozen=True)
class FixityProblem:
    """One archived object that is not what the catalog says."""

    document_code: str
    key: str
    problem: str
    detail: str


@dataclass(frozen=True)
class FixityReport:
    """The result of a fixity run: how many documents were checked and what was wrong."""

    checked: int
    problems: tuple[FixityProblem, ...]

    @property
    def ok(self) -> bool:
        """True when every checked object and manifest matched the catalog."""
        return not self.problems

    @property
    def missing(self) -> int:
        """How many objects (PDFs or manifests) were not in the archive."""
        return sum(p.problem == MISSING for p in self.problems)

    @property
    def corrupt(self) -> int:
        """How many objects (PDFs or manifests) did not match the catalog."""
        return sum(p.problem == CORRUPT for p in self.problems)

    @property
    def unrecorded(self) -> int:
        """How many stored objects belong to no document of the catalog."""
        return sum(p.problem == UNRECORDED for p in self.problems)


@dataclass(frozen=True)
class ArchivedDocument:
    """What the catalog says is archived: the code, the key and the SHA-256 of the signed bytes."""

    document_code: str
    key: str
    sha256: str


def archived_documents(catalog: Catalog, sample: int | None = None) -> list[ArchivedDocument]:
    """The archived documents of the catalog, all (by code) or a random ``sample`` of them."""
    if sample is not None and (isinstance(sample, bool) or sample < 1):
        raise BadInputError(_("fixity sample {sample!r} must be a positive number of documents", sample=sample))
    marks = ", ".join("?" * len(DIGITIZED_STATUSES))
    sql = (
        "SELECT document_code, archive_key, output_sha256 FROM documents "
        f"WHERE archive_key IS NOT NULL AND output_sha256 IS NOT NULL AND status IN ({marks})"
    )
    params: list[object] = list(DIGITIZED_STATUSES)
    if sample is None:
        sql += " ORDER BY document_code"
    else:
        sql += " ORDER BY RANDOM() LIMIT ?"
        params.append(sample)
    return [ArchivedDocument(*row) for row in catalog.query(sql, params)]


def check_fixity(archive: Archive, catalog: Catalog, sample: int | None = None) -> FixityReport:
    """Re-read every archived document (or a random ``sample``) and its manifest; report what differs.

    Without a sample the store is walked too, and objects no document accounts for are reported.
    """
    documents = archived_documents(catalog, sample)
    report = check_documents(archive, documents)
    if sample is not None:
        return report
    in_flight = {code for code, _sha in catalog.reserved_documents()}
    strays = unrecorded_objects(archive, documents, in_flight)
    return FixityReport(report.checked, report.problems + tuple(strays))


def record_fixity_events(catalog: Catalog, report: FixityReport) -> None:
    """Log the run in the catalog's events: one ``fixity_failed`` per problem, one ``fixity_checked``."""
    for problem in report.problems:
        catalog.add_event("fixity_failed", None if problem.document_code == "-" else problem.document_code,
                          key=problem.key, problem=problem.problem)
    catalog.add_event("fixity_checked", checked=report.checked, missing=report.missing, corrupt=report.corrupt,
                      unrecorded=report.unrecorded)


def unrecorded_objects(
    archive: Archive, documents: Iterable[ArchivedDocument], in_flight: frozenset[str] | set[str] = frozenset()
) -> list[FixityProblem]:
    """Stored objects that belong to no recorded document, in its folder (nor to one held in flight)."""
    folders = {(d.document_code, posixpath.dirname(d.key)) for d in documents}
    problems = []
    for key in archive.iter_keys():
        folder, name = posixpath.split(key)
        match = _OBJECT_DOCUMENT.match(name)
        code = match["code"] if match else ""
        if (code, folder) in folders or code in in_flight:
            continue
        problems.append(FixityProblem(code or "-", key, UNRECORDED,
                                      _("the archive holds this object, but the catalog records no such document")))
    return problems


def check_documents(archive: Archive, documents: Iterable[ArchivedDocument]) -> FixityReport:
    """Fixity of the given documents against ``archive``."""
    problems: list[FixityProblem] = []
    checked = 0
    for document in documents:
        checked += 1
        problems.extend(_check_object(archive, document))
        problems.extend(_check_manifest(archive, document))
    return FixityReport(checked=checked, problems=tuple(problems))


def _check_object(archive: Archive, document: ArchivedDocument) -> list[FixityProblem]:
    return _check_stored(archive, document.document_code, document.key, document.sha256,
                         _("the object is not in the archive"),
                         _("the stored bytes do not have the catalog's SHA-256 {sha256}", sha256=document.sha256))


def _check_stored(
    archive: Archive, document_code: str, key: str, sha256: str, missing: str, corrupt: str
) -> list[FixityProblem]:
    """One archived object against the SHA-256 it must have: no problem, or it is missing or corrupt."""
    if archive.verify(key, sha256):
        return []
    if archive.head(key) is None:
        return [FixityProblem(document_code, key, MISSING, missing)]
    return [FixityProblem(document_code, key, CORRUPT, corrupt)]


def _check_manifest(archive: Archive, document: ArchivedDocument) -> list[FixityProblem]:
    key = manifest_key_of(document.key)
    if archive.head(key) is None:
        return [FixityProblem(document.document_code, key, MISSING, _("the manifest is not in the archive"))]
    try:
        manifest = json.loads(archive.get_bytes(key))
    except (ValueError, UnicodeDecodeError) as e:
        return [FixityProblem(document.document_code, key, CORRUPT, _("the manifest is not JSON: {error}", error=e))]
    stated = manifest.get("output_sha256") if isinstance(manifest, dict) else None
    if stated != document.sha256:
        return [
            FixityProblem(
                document.document_code, key, CORRUPT,
                _("the manifest names output SHA-256 {stated}, the catalog {sha256}", stated=stated,
                  sha256=document.sha256),
            )
        ]
    originals = manifest.get("signed_originals", [])
    if not isinstance(originals, list):
        return [FixityProblem(document.document_code, key, CORRUPT,
                              _("the manifest's signed_originals is not a list"))]
    return [problem for original in originals for problem in _check_original(archive, document, key, original)]


def _check_original(archive: Archive, document: ArchivedDocument, manifest: str, original: object) -> list[FixityProblem]:
    """A signed original the manifest lists (``ocr.signed_input = "keep-original"``): there, with its bytes."""
    key = original.get("key") if isinstance(original, dict) else None
    sha256 = original.get("sha256") if isinstance(original, dict) else None
    try:
        key, sha256 = check_key(key), check_sha256(sha256)  # type: ignore[arg-type] - checked here
    except BadInputError as e:
        return [FixityProblem(document.document_code, manifest, CORRUPT,
                              _("the manifest lists a signed original it does not name properly: {error}",
                                error=e.message))]
    return _check_stored(archive, document.document_code, key, sha256, _("the signed original is not in the archive"),
                         _("the signed original's bytes no longer hash to {sha256}", sha256=sha256))
