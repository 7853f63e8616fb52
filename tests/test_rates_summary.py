"""The rates report from its summary (``result_days``, ``result_months``, kept by triggers) on random catalogs.

Each catalog gets random inventory results and documents, then goes through
what happens to a real one: documents change status or archive time, lose
their signature or are deleted, the inventory is re-imported with changed
dates and offices, rows are deleted or re-keyed, orphan documents find their
inventory row. After that the summary must equal a recount from scratch, and
every report (period ends on and off month ends, with and without filters)
must equal one computed here straight from the definitions in
:mod:`rates`, row by row.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from rates.inventory import import_inventory, import_offices
from rates.model import (
    BacklogItem,
    Forecast,
    IntakeCoverage,
    OrphanDocument,
    RateRow,
    RatesReport,
    TrendPoint,
)
from rates.queries import rates_report
from rates.summary import recount
from rates.targets import load_schedule
from storage.catalog import MIGRATIONS, Catalog

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


# --- the reference: the definitions of rates.model, row by row, without its code ---------------

BASELINE = {"tinh": 50, "huyen": 40, "xa": 35}
INTAKE_BASELINE = {"tinh": 100, "huyen": 60, "xa": 30}


def _target(level: str, year: int) -> int | None:
    """Plan 4521: 50/40/35% in 2022, then +20 points a year, at most 100."""
    return None if year < 2022 else min(100, BASELINE[level] + 20 * (year - 2022))


def _intake_target(level: str, year: int) -> int | None:
    return None if year < 2022 else min(100, INTAKE_BASELINE[level] + 30 * (year - 2022))


def _vietnam_day(text: str) -> str:
    return (datetime.fromisoformat(text.replace("Z", "+00:00")) + timedelta(hours=7)).date().isoformat()


def _month_ends(end: date) -> list[date]:
    """The ends of the eleven months before ``end``'s month, then ``end``."""
    ends, first = [], end.replace(day=1)
    for _ in range(11):
        first = (first - timedelta(days=1)).replace(day=1)
        ends.insert(0, (first + timedelta(days=32)).replace(day=1) - timedelta(days=1))
    return [*ends, end]


def _needed(target: int | None, in_force: int, digitized: int) -> int:
    return 0 if target is None else max(0, -(-target * in_force // 100) - digitized)


def _status(target: int | None, total: int, done: int, nothing: str) -> str:
    if target is None:
        return "no target"
    if total == 0:
        return nothing
    return "met" if done * 100 >= target * total else "behind"


def reference_report(catalog: Catalog, end: date, level: str | None, office: str | None, limit: int | None):
    """The report computed straight from the definitions, reading every row (no code of rates.model)."""
    documents = catalog.query("SELECT document_code, dossier_code, number, kind, status, signed_at, archived_at, "
                              "level, office_code FROM documents")
    verified = {code: (_vietnam_day(at), lv, oc, at)
                for code, dossier, number, kind, status, signed, at, lv, oc in documents
                if kind == "KQ" and status == "verified" and signed is not None and at is not None}
    inventory = catalog.query("SELECT dossier_code, result_no, level, office_code, procedure_code, resolved_date, "
                              "valid_until FROM inventory")
    registry = {row[0]: row for row in catalog.query(
        "SELECT code, name, level, area_type, status, merged_into FROM offices")}
    levels = [level] if level else list(LEVELS)
    last, pace = end.isoformat(), (end - timedelta(days=29)).isoformat()
    months, years = _month_ends(end), [*(date(y, 12, 31) for y in range(2022, end.year)), end]
    chosen = [r for r in inventory if level in (None, r[2]) and office in (None, r[3])]

    def in_force(row, at: str) -> bool:
        return row[5] is not None and row[5] <= at and (row[6] is None or row[6] >= at)

    def done(row, at: str) -> bool:
        code = f"{row[0]}-KQ{row[1]}"
        return in_force(row, at) and code in verified and verified[code][0] <= at

    intake_codes = {oc for _, _, _, kind, status, _, at, _, oc in documents
                    if kind == "HS" and status in ("archived", "verified") and at is not None
                    and f"{end.year}-01-01" <= _vietnam_day(at) <= last}
    shown = {code: row for code, row in registry.items() if level in (None, row[2]) and office in (None, code)}
    keys = {(r[2], r[3]) for r in chosen} | {(row[2], code) for code, row in shown.items()}
    office_rows = []
    for lv, oc in keys:
        _, name, _, area, status, merged = registry.get(oc, (oc, "(not in the office registry)", lv, "urban",
                                                             "active", None))
        mine = [r for r in chosen if (r[2], r[3]) == (lv, oc)]
        shown_status = (f"merged into {merged}" if merged else "merged") if status == "merged" else status
        mark = "exempt" if area == "remote" else "-" if status != "active" else "yes" if oc in intake_codes else "no"
        office_rows.append(RateRow("office", lv, oc, name, shown_status, sum(in_force(r, last) for r in mine),
                                   sum(done(r, last) for r in mine), _target(lv, end.year), mark, merged))
    office_rows.sort(key=lambda r: (-_needed(r.target, r.in_force, r.digitized), r.level, r.office_code))
    level_rows = [RateRow("level", lv, "", f"level {lv}", "", sum(r.in_force for r in office_rows if r.level == lv),
                          sum(r.digitized for r in office_rows if r.level == lv), _target(lv, end.year))
                  for lv in levels]
    total = RateRow("total", "", "", "all levels", "", sum(r.in_force for r in office_rows),
                    sum(r.digitized for r in office_rows), None)

    def points(at: list[date]) -> tuple[TrendPoint, ...]:
        return tuple(TrendPoint(lv, p, sum(in_force(r, p.isoformat()) for r in chosen if r[2] == lv),
                                sum(done(r, p.isoformat()) for r in chosen if r[2] == lv), _target(lv, p.year))
                     for lv in levels for p in at)

    forecasts = []
    for row in level_rows:
        recent = sum(1 for r in chosen if r[2] == row.level and done(r, last)
                     and verified[f"{r[0]}-KQ{r[1]}"][0] >= pace)
        needed = _needed(row.target, row.in_force, row.digitized)
        if row.target is None or row.in_force == 0:
            reason, reach, needed = ("no target" if row.target is None else "no results"), None, 0
        elif needed == 0:
            reason, reach = "target met", end
        elif recent == 0:
            reason, reach = "no recent", None
        else:
            reason, reach = "pace", end + timedelta(days=-(-needed * 30 // recent))
        forecasts.append(Forecast(row.level, needed, recent, recent / 30, reach, reason))
    intake = []
    for lv in levels:
        of_level = [row for row in shown.values() if row[2] == lv]
        eligible = [row for row in of_level if row[3] != "remote" and row[4] == "active"]
        intake.append(IntakeCoverage(lv, len(eligible), sum(row[0] in intake_codes for row in eligible),
                                     sum(row[3] == "remote" for row in of_level), _intake_target(lv, end.year)))
    backlog = sorted(((r[5], r[0], r[1]), BacklogItem(f"{r[0]}-KQ{r[1]}", r[2], r[3], r[4], r[5], r[6]))
                     for r in chosen if in_force(r, last) and not done(r, last))
    matched = {f"{r[0]}-KQ{r[1]}" for r in inventory}
    orphans = sorted((OrphanDocument(code, lv, oc, at) for code, (day, lv, oc, at) in verified.items()
                      if code not in matched and day <= last and level in (None, lv) and office in (None, oc)),
                     key=lambda o: o.document_code)
    return RatesReport(
        period_end=end, levels=tuple(level_rows), offices=tuple(office_rows), total=total, trend=points(months),
        forecasts=tuple(forecasts), intake=tuple(intake), backlog=tuple(item for _, item in backlog)[:limit],
        backlog_total=total.in_force - total.digitized, orphans=tuple(orphans[:limit]), orphans_total=len(orphans),
        filters={k: v for k, v in (("level", level), ("office", office)) if v}, span=points(years),
    )


def _derived(report: RatesReport) -> list[tuple]:
    """What the report's rows say beyond their fields: needed, status, rate."""
    rows = [*report.levels, report.total, *report.offices]
    return [(r.needed, r.status, r.rate) for r in rows] + [(i.status, i.rate) for i in report.intake]


def check_reports_match_the_reference(catalog: Catalog) -> None:
    assert recount(catalog) == 0, "the triggers let the summary drift from a full recount"
    for end in ENDS:
        for level, office, limit in ((None, None, 100), (None, None, 3), ("xa", None, 100), ("huyen", None, 5),
                                     (None, "x-2", 100), ("xa", "x-1", None)):
            got = rates_report(catalog, end, load_schedule(), LEVELS, level=level, office=office, list_limit=limit)
            expected = reference_report(catalog, end, level, office, limit)
            assert got == expected, (end, level, office, limit)
            assert _derived(got) == _derived(expected)
            assert [f.note for f in got.forecasts] == [f.note for f in expected.forecasts]


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
