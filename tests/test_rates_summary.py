"""The rates report from its summary (``result_days``, ``result_months``, kept by triggers) on random catalogs.

Each catalog gets random inventory results and documents, then goes through
what happens to a real one: documents change status or archive time, lose
their signature or are deleted, the inventory is re-imported with changed
dates and offices, rows are deleted or re-keyed, orphan documents find their
inventory row. After that the summary must equal a recount from scratch, and
every report (period ends on and off month ends, with and without filters)
must equal one computed here straight from the definitions in
:mod:`digitize.rates`, row by row.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from digitize.rates.model import BacklogItem, OfficeTally, OrphanDocument, build_report, checkpoints, pace_start
from digitize.rates.targets import load_schedule
from digitize.rates.summary import recount
from storage.catalog import MIGRATIONS, Catalog
from digitize.rates.inventory import import_inventory, import_offices
from digitize.rates.queries import offices, rates_report

LEVELS = ("tinh", "huyen", "xa")
OFFICES = (("t-1", "tinh"), ("h-1", "huyen"), ("h-2", "huyen"), ("x-1", "xa"), ("x-2", "xa"), ("x-3", "xa"))
ENDS = (date(2025, 6, 30), date(2025, 6, 15), date(2025, 3, 1), date(2025, 2, 28), date(2024, 12, 31),
        date(2025, 11, 7), date(2026, 1, 31))
HEADER = "dossier_code,procedure_code,office_code,level,received_date,resolved_date,result_no,valid_until\n"


def _day(rng: random.Random, start: date = date(2024, 1, 1), days: int = 760) -> date:
    return start + timedelta(days=rng.randrange(days))


def _moment(rng: random.Random, day: date) -> str:
    """A UTC time on ``day`` (UTC), often close to 17:00, where the Vietnam day turns."""
    seconds = rng.choice((17 * 3600 - 1, 17 * 3600, 16 * 3600 + 59 * 60, rng.randrange(86400)))
    at = datetime.combine(day, datetime.min.time(), timezone.utc) + timedelta(seconds=seconds)
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _inventory_csv(rows: dict[tuple[str, str], tuple[str, str, str, str | None]]) -> str:
    lines = [f"{dossier},1.001,{office},{level},,{resolved},{number},{valid or ''}"
             for (dossier, number), (office, level, resolved, valid) in sorted(rows.items())]
    return HEADER + "\n".join(lines) + "\n"


def _random_row(rng: random.Random) -> tuple[str, str, str, str | None]:
    office, level = rng.choice(OFFICES)
    resolved = _day(rng)
    valid = None if rng.random() < 0.5 else (resolved + timedelta(days=rng.randrange(0, 300))).isoformat()
    return office, level, resolved.isoformat(), valid


def _insert_document(catalog: Catalog, rng: random.Random, serial: int, dossier: str, kind: str, number: int,
                     office: str, level: str, after: date) -> None:
    status = rng.choice(("verified", "verified", "verified", "archived", "failed"))
    at = _moment(rng, after + timedelta(days=rng.randrange(0, 300)))
    signed = None if rng.random() < 0.05 else at
    catalog.execute("INSERT INTO dossiers (dossier_code, level, office_code, first_seen) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (dossier_code) DO NOTHING", (dossier, level, office, at))
    catalog.execute(
        "INSERT INTO documents (document_code, dossier_code, kind, number, level, office_code, input_sha256, "
        "status, digitized_at, signed_at, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (f"{dossier}-{kind}{number}", dossier, kind, number, level, office, f"{serial:064x}", status, at, signed, at))


def build_random_catalog(catalog: Catalog, folder: Path, seed: int, results: int = 250) -> None:
    """Fill ``catalog`` with a random history (see the module docstring)."""
    rng = random.Random(seed)
    (folder / "offices.csv").write_text(
        "code,name,level,area_type,status,merged_into\n"
        + "".join(f"{code},Office {code},{level},{rng.choice(('urban', 'rural', 'remote'))},active,\n"
                  for code, level in OFFICES), encoding="utf-8")
    import_offices(catalog, folder / "offices.csv", LEVELS)
    rows = {(f"D{i:04d}", str(rng.choice((1, 1, 1, 2)))): _random_row(rng) for i in range(results)}
    (folder / "inventory.csv").write_text(_inventory_csv(rows), encoding="utf-8")
    import_inventory(catalog, folder / "inventory.csv", LEVELS)
    serial = 0
    with catalog.transaction("random documents"):
        for (dossier, number), (office, level, resolved, _) in rows.items():
            if rng.random() < 0.8:
                serial += 1
                kind = "KQ" if rng.random() < 0.9 else "HS"
                _insert_document(catalog, rng, serial, dossier, kind, int(number), office, level,
                                 date.fromisoformat(resolved) - timedelta(days=20))
        for j in range(results // 10):  # orphans: results of dossiers with no inventory row (yet)
            serial += 1
            office, level = rng.choice(OFFICES)
            _insert_document(catalog, rng, serial, f"O{j:04d}", "KQ", 1, office, level, _day(rng))
    documents = [code for (code,) in catalog.query("SELECT document_code FROM documents ORDER BY id")]
    with catalog.transaction("documents change"):
        for code in rng.sample(documents, len(documents) // 4):
            change = rng.randrange(5)
            if change == 0:
                catalog.execute("UPDATE documents SET status = ? WHERE document_code = ?",
                                (rng.choice(("verified", "archived", "failed")), code))
            elif change == 1:
                catalog.execute("UPDATE documents SET archived_at = ? WHERE document_code = ?",
                                (_moment(rng, _day(rng)), code))
            elif change == 2:
                catalog.execute("UPDATE documents SET signed_at = NULL WHERE document_code = ?", (code,))
            elif change == 3:
                catalog.execute("DELETE FROM documents WHERE document_code = ?", (code,))
            else:  # a change the counts do not depend on
                catalog.execute("UPDATE documents SET title = 'x', archive_key = NULL WHERE document_code = ?",
                                (code,))
    # A corrected export: changed dates and offices, new rows, some for orphan documents.
    for key in rng.sample(sorted(rows), len(rows) // 5):
        office, level, resolved, valid = rows[key]
        if rng.random() < 0.5:
            office, level = rng.choice(OFFICES)
        rows[key] = (office, level, *_random_row(rng)[2:]) if rng.random() < 0.7 else (office, level, resolved, valid)
    for j in range(0, results // 10, 2):
        rows[f"O{j:04d}", "1"] = _random_row(rng)
    for i in range(results, results + results // 10):
        rows[f"D{i:04d}", "1"] = _random_row(rng)
    (folder / "corrected.csv").write_text(_inventory_csv(rows), encoding="utf-8")
    import_inventory(catalog, folder / "corrected.csv", LEVELS)
    with catalog.transaction("inventory rows removed and re-keyed"):
        ids = [row_id for (row_id,) in catalog.query("SELECT id FROM inventory ORDER BY id")]
        for row_id in rng.sample(ids, len(ids) // 20):
            catalog.execute("DELETE FROM inventory WHERE id = ?", (row_id,))
        for row_id in rng.sample(ids, len(ids) // 20):
            catalog.execute("UPDATE inventory SET dossier_code = 'R' || dossier_code WHERE id = ?", (row_id,))
        catalog.execute("UPDATE inventory SET resolved_date = NULL WHERE id = ?", (ids[-1],))


# --- the reference: the definitions of digitize.rates, row by row -----------------------------------


def _vietnam_day(text: str) -> str:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(hours=7)).date().isoformat()


def reference_report(catalog: Catalog, end: date, level: str | None, office: str | None, limit: int | None):
    """The report computed straight from the definitions, reading every row."""
    documents = catalog.query("SELECT document_code, dossier_code, number, kind, status, signed_at, archived_at, "
                              "level, office_code FROM documents")
    verified = {code: (_vietnam_day(at), lv, oc, at)
                for code, dossier, number, kind, status, signed, at, lv, oc in documents
                if kind == "KQ" and status == "verified" and signed is not None and at is not None}
    inventory = catalog.query("SELECT dossier_code, result_no, level, office_code, procedure_code, resolved_date, "
                              "valid_until FROM inventory")
    points = checkpoints(end)
    last, pace = end.isoformat(), pace_start(end).isoformat()

    def in_force(resolved, valid, at):
        return resolved is not None and resolved <= at and (valid is None or valid >= at)

    tallies: dict[tuple[str, str], tuple[list[int], list[int], list[int]]] = {}
    backlog, matched = [], set()
    for dossier, number, lv, oc, procedure, resolved, valid in inventory:
        code = f"{dossier}-KQ{number}"
        matched.add(code)
        if (level is not None and lv != level) or (office is not None and oc != office):
            continue
        day = verified[code][0] if code in verified else None
        forced, done, recent = tallies.setdefault((lv, oc), ([0] * len(points), [0] * len(points), [0]))
        for j, p in enumerate(points):
            if in_force(resolved, valid, p.isoformat()):
                forced[j] += 1
                done[j] += day is not None and day <= p.isoformat()
        if in_force(resolved, valid, last):
            recent[0] += day is not None and pace <= day <= last
            if day is None or day > last:
                backlog.append(((resolved, dossier, number), BacklogItem(code, lv, oc, procedure, resolved, valid)))
    orphans = list(OrphanDocument(code, lv, oc, at) for code, (day, lv, oc, at) in verified.items()
                     if code not in matched and day <= last and level in (None, lv) and office in (None, oc))
    orphans.sort(key=lambda o: o.document_code)
    registry = [o for o in offices(catalog) if level in (None, o.level) and office in (None, o.code)]
    backlog.sort(key=lambda pair: pair[0])
    return build_report(
        end,
        [OfficeTally(lv, oc, tuple(f), tuple(d), r[0]) for (lv, oc), (f, d, r) in sorted(tallies.items())],
        registry,
        load_schedule(),
        intake_offices=_intake(catalog, end),
        levels=[level] if level else list(LEVELS),
        points=points,
        backlog=[item for _, item in backlog][:limit],
        orphans=orphans[:limit],
        orphans_total=len(orphans),
        filters={k: v for k, v in (("level", level), ("office", office)) if v},
    )


def _intake(catalog: Catalog, end: date) -> set[str]:
    from digitize.rates.queries import intake_offices

    return intake_offices(catalog, end)


def check_reports_match_the_reference(catalog: Catalog) -> None:
    assert recount(catalog) == 0, "the triggers let the summary drift from a full recount"
    for end in ENDS:
        for level, office, limit in ((None, None, 100), (None, None, 3), ("xa", None, 100), ("huyen", None, 5),
                                     (None, "x-2", 100), ("xa", "x-1", None)):
            got = rates_report(catalog, end, load_schedule(), LEVELS, level=level, office=office, list_limit=limit)
            assert got == reference_report(catalog, end, level, office, limit), (end, level, office, limit)


@pytest.mark.parametrize("seed", range(6))
def test_report_from_the_summary_equals_a_full_recount_on_random_catalogs(tmp_path, seed):
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        build_random_catalog(catalog, tmp_path, seed)
        check_reports_match_the_reference(catalog)


def test_recount_finds_and_repairs_a_summary_written_around_the_triggers(tmp_path):
    with Catalog.open(tmp_path / "catalog.sqlite") as catalog:
        build_random_catalog(catalog, tmp_path, 99, results=60)
        with catalog.transaction("tamper"):
            catalog.execute("UPDATE result_months SET n = n + 1 WHERE measure = 'resolved'")
        changed = catalog.query("SELECT COUNT(*) FROM result_months WHERE measure = 'resolved' AND n <> 0")[0][0]
        assert recount(catalog) == changed
        assert recount(catalog) == 0
        check_reports_match_the_reference(catalog)


def test_migration_to_version_2_counts_the_rows_already_there(tmp_path):
    import sqlite3

    path = tmp_path / "catalog.sqlite"
    with Catalog.open(path) as catalog:
        build_random_catalog(catalog, tmp_path, 7, results=80)
        before = _summary(catalog)
    db = sqlite3.connect(path)  # back to a version 1 catalog holding the same rows
    db.executescript("DROP TABLE result_months; DROP TABLE result_days; DROP TABLE orphan_documents; "
                     "DROP TABLE reservations; DELETE FROM schema_migrations WHERE version >= 2; "
                     + "".join(f"DROP TRIGGER {name};" for (name,) in db.execute(
                         "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall())
                     + "PRAGMA user_version = 1;")
    db.close()
    with Catalog.open(path) as catalog:
        assert catalog.schema_version == len(MIGRATIONS)
        assert _summary(catalog) == before


def _summary(catalog: Catalog) -> list[list[tuple]]:
    return [catalog.query("SELECT * FROM result_days WHERE n <> 0 ORDER BY 1, 2, 3, 4"),
            catalog.query("SELECT * FROM result_months WHERE n <> 0 ORDER BY 1, 2, 3, 4"),
            catalog.query("SELECT * FROM orphan_documents ORDER BY 1")]
