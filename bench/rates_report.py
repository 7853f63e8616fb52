"""Benchmark: the rates report over N inventory rows and N documents on SQLite.

    .venv/bin/python bench/rates_report.py [--rows 1000000] [--db var/bench/rates.sqlite]

Generates the catalog once (kept at --db and reused while its row count
matches; rows go in through the schema's triggers, so the generation time
includes keeping the summary), then times the whole report (every query plus
the sums) three times, at the period end (not a month end) and at the month
end before it, then each query once, then the filtered reports.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import rates.queries as inventory  # noqa: E402
from rates.queries import rates_report  # noqa: E402
from rates.targets import load_schedule  # noqa: E402
from storage.catalog import Catalog  # noqa: E402

LEVELS = ("tinh", "huyen", "xa")
END = date(2026, 11, 28)
MONTH_END = date(2026, 10, 31)
START = date(2022, 1, 1)


def offices() -> list[tuple[str, str, str, str, str, None]]:
    rows = [("ttpvhcc", "Trung tâm PVHCC tỉnh", "tinh", "urban", "active", None)]
    rows += [(f"huyen-{i:02d}", f"UBND huyện {i}", "huyen", "rural", "merged", None) for i in range(11)]
    rows += [(f"xa-{i:03d}", f"UBND xã {i}", "xa", random.choice(("urban", "rural", "remote")), "active", None)
             for i in range(188)]
    return rows


def generate(catalog: Catalog, n: int) -> None:
    rng = random.Random(4521)
    random.seed(4521)
    office_rows = offices()
    span = (END - START).days
    inventory, dossiers, documents = [], [], []
    for i in range(n):
        code, _, level, *_ = office_rows[rng.randrange(len(office_rows))]
        resolved = START + timedelta(days=rng.randrange(span))
        valid = None if rng.random() < 0.6 else (resolved + timedelta(days=rng.choice((182, 365, 1095)))).isoformat()
        dossier = f"D{i:08d}"
        inventory.append((dossier, "1.001193", code, level, resolved.isoformat(), resolved.isoformat(), "1", valid))
        dossiers.append((dossier, None, level, code, "2026-01-01T00:00:00Z"))
        roll = rng.random()
        if True:  # one document per row: its result (82%), an orphan result (4%) or a dossier paper (14%)
            kind = "KQ" if roll < 0.86 else "HS"
            doc_dossier = f"X{i:08d}" if 0.82 <= roll < 0.86 else dossier
            if doc_dossier != dossier:
                dossiers.append((doc_dossier, None, level, code, "2026-01-01T00:00:00Z"))
            at = datetime.combine(resolved + timedelta(days=rng.randrange(1, 400)), datetime.min.time(), timezone.utc)
            at = min(at, datetime(2026, 11, 28, 3, tzinfo=timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
            documents.append((f"{doc_dossier}-{kind}1", doc_dossier, kind, 1, level, code, f"{i:064x}",
                              "verified", at, at, at))
    with catalog.transaction("bench data"):
        catalog.executemany("INSERT INTO offices VALUES (?, ?, ?, ?, ?, ?)", office_rows)
        catalog.executemany(
            "INSERT INTO inventory (dossier_code, procedure_code, office_code, level, received_date, resolved_date, "
            "result_no, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inventory)
        catalog.executemany("INSERT INTO dossiers VALUES (?, ?, ?, ?, ?)", dossiers)
        catalog.executemany(
            "INSERT INTO documents (document_code, dossier_code, kind, number, level, office_code, input_sha256, "
            "status, digitized_at, signed_at, archived_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", documents)
    catalog.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("var/bench/rates.sqlite"))
    args = parser.parse_args()
    catalog = Catalog.open(args.db)
    have = catalog.query("SELECT COUNT(*) FROM inventory")[0][0]
    if have != args.rows:
        catalog.close()
        for suffix in ("", "-wal", "-shm"):
            Path(str(args.db) + suffix).unlink(missing_ok=True)
        catalog = Catalog.open(args.db)
        started = time.perf_counter()
        generate(catalog, args.rows)
        print(f"generated in {time.perf_counter() - started:.1f} s")
    counts = {t: catalog.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("inventory", "documents", "offices")}
    print(f"rows: {counts}")
    schedule = load_schedule()
    for end in (END, MONTH_END):
        for run in range(3):
            started = time.perf_counter()
            report = rates_report(catalog, end, schedule, LEVELS)
            print(f"{end} run {run + 1}: report in {time.perf_counter() - started:.2f} s "
                  f"(in force {report.total.in_force}, digitized {report.total.digitized}, "
                  f"backlog {report.backlog_total}, orphans {report.orphans_total})")
    steps(catalog)
    for name, filters in (("--office xa-007", {"office": "xa-007"}), ("--level huyen", {"level": "huyen"}),
                          ("--level xa", {"level": "xa"})):
        started = time.perf_counter()
        rates_report(catalog, END, schedule, LEVELS, **filters)
        print(f"  {time.perf_counter() - started:5.2f} s  report {name}")
    catalog.close()


def steps(catalog: Catalog) -> None:
    """Time each query of the report once."""
    for name, run in (
        ("counts (result_months, then result_days for the end's month)", lambda: inventory.result_counts(catalog, END)),
        ("counts at a month end (result_months only)", lambda: inventory.result_counts(catalog, MONTH_END)),
        ("orphan list (limit 100, orphan_documents)", lambda: inventory.orphan_list(catalog, END)),
        ("orphans straight from documents (the check)", lambda: inventory.orphans(catalog, END)),
        ("backlog list (limit 100)", lambda: inventory.backlog(catalog, END)),
        ("intake offices", lambda: inventory.intake_offices(catalog, END)),
    ):
        started = time.perf_counter()
        run()
        print(f"  {time.perf_counter() - started:5.2f} s  {name}")


if __name__ == "__main__":
    main()
