"""The catalog queries the rates report needs, over 1 M documents on SQLite (target: each < 2 s).

Builds (once, then reuses) a catalog with ``--documents`` documents (85 % results
KQ, 15 % dossier papers HS) in as many dossiers, 700 offices over three levels,
and an inventory of issued results of the same size of which about 70 % are
digitized; archive times spread over 2025-01 .. 2026-11. Then times, cold
(first run after opening) and warm (best of ``--repeat``):

- the archive's own counts: documents per level / office / status / month;
- ``rates.queries``'s report queries (result_counts: the figures at 12
  checkpoints from ``result_months`` plus the end's month and the pace window;
  backlog, orphans, intake_offices, offices), when that module is present.

    .venv/bin/python bench/catalog_queries.py [--documents 1000000] [--db var/bench/catalog-1m.sqlite]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.catalog import Catalog  # noqa: E402

LEVELS = (("tinh", 20), ("huyen", 180), ("xa", 500))
START = datetime(2025, 1, 1, tzinfo=UTC)
SPAN_SECONDS = int((datetime(2026, 11, 28, tzinfo=UTC) - START).total_seconds())
END = date(2026, 11, 28)


def offices() -> list[tuple[str, str, str, str, str, None]]:
    rows = []
    for level, count in LEVELS:
        for n in range(count):
            area = ("urban", "rural", "remote")[n % 3]
            rows.append((f"{level}-{n:03d}", f"Office {level} {n}", level, area, "active", None))
    return rows


def utc(seconds: int) -> str:
    return (START + timedelta(seconds=seconds)).isoformat(timespec="seconds").replace("+00:00", "Z")


def rows(total: int, office_rows: list[tuple]) -> Iterator[tuple[tuple, tuple, tuple | None]]:
    """(dossier, document, inventory row or None) for each of ``total`` documents."""
    rng = random.Random(45)
    for i in range(total):
        code, _, level, *_ = office_rows[rng.randrange(len(office_rows))]
        dossier = f"D{i:07d}"
        kind = "KQ" if rng.random() < 0.85 else "HS"
        archived = rng.randrange(SPAN_SECONDS)
        at = utc(archived)
        status = "verified" if rng.random() < 0.97 else "failed"
        document = (f"{dossier}-{kind}1", dossier, kind, 1, level, code, f"{i:064x}", f"{i + 1:064x}",
                    f"{level}/{code}/{at[:4]}/{dossier}/{dossier}-{kind}1.pdf", 3, 90.0, "B-LT", "Signer",
                    status, at, at, at, None)
        resolved = (START + timedelta(seconds=max(0, archived - rng.randrange(90 * 86400)))).date().isoformat()
        inventory = None
        if kind == "KQ" and rng.random() < 0.95:  # a few results are orphans (no inventory row)
            valid = None if rng.random() < 0.8 else (date.fromisoformat(resolved) + timedelta(days=365)).isoformat()
            inventory = (dossier, "1.001234", code, level, resolved, resolved, "1", valid)
        yield (dossier, "1.001234", level, code, at), document, inventory
    # Results issued but not digitized (about 30 % of the inventory): no document.
    for j in range(int(total * 0.35)):
        code, _, level, *_ = office_rows[rng.randrange(len(office_rows))]
        resolved = (START + timedelta(seconds=rng.randrange(SPAN_SECONDS))).date().isoformat()
        yield None, None, (f"N{j:07d}", "1.001234", code, level, resolved, resolved, "1", None)


def build(path: Path, total: int) -> None:
    office_rows = offices()
    started = time.perf_counter()
    with Catalog.open(path) as catalog, catalog.transaction("bench data"):
        catalog.executemany("INSERT INTO offices (code, name, level, area_type, status, merged_into) "
                            "VALUES (?, ?, ?, ?, ?, ?)", office_rows)
        batch: tuple[list, list, list] = ([], [], [])
        for dossier, document, inventory in rows(total, office_rows):
            for target, row in zip(batch, (dossier, document, inventory), strict=True):
                if row is not None:
                    target.append(row)
            if len(batch[0]) >= 50_000 or (dossier is None and len(batch[2]) >= 50_000):
                _flush(catalog, batch)
        _flush(catalog, batch)
        catalog.execute("ANALYZE")
    print(f"built {path} with {total:,} documents in {time.perf_counter() - started:.0f} s")


def _flush(catalog: Catalog, batch: tuple[list, list, list]) -> None:
    dossiers, documents, inventory = batch
    catalog.executemany("INSERT INTO dossiers (dossier_code, procedure_code, level, office_code, first_seen) "
                        "VALUES (?, ?, ?, ?, ?)", dossiers)
    catalog.executemany(
        "INSERT INTO documents (document_code, dossier_code, kind, number, level, office_code, input_sha256, "
        "output_sha256, archive_key, page_count, ocr_confidence, pades_level, signer, status, digitized_at, "
        "signed_at, archived_at, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", documents)
    catalog.executemany(
        "INSERT INTO inventory (dossier_code, procedure_code, office_code, level, received_date, resolved_date, "
        "result_no, valid_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", inventory)
    for rows_ in batch:
        rows_.clear()


def queries(catalog: Catalog) -> dict[str, Callable[[], object]]:
    named: dict[str, Callable[[], object]] = {
        # Grouped by office (its level follows), so the index (office_code, status, archived_at) covers it.
        "documents per office/status/month": lambda: catalog.query(
            "SELECT office_code, status, substr(archived_at, 1, 7), COUNT(*) FROM documents GROUP BY 1, 2, 3"),
        "digitized per level (counts_by_level)": catalog.counts_by_level,
        "ls --office xa-007 --year 2026": lambda: catalog.documents(office="xa-007", year=2026),
    }
    try:
        from rates import queries as inventory
        from rates.targets import load_schedule
    except ImportError as e:
        print(f"(rates.queries not importable: {e}; timing the archive's own counts only)")
        return named
    named.update({
        "inventory.result_counts (12 checkpoints)": lambda: inventory.result_counts(catalog, END),
        "inventory.result_counts --level xa": lambda: inventory.result_counts(catalog, END, level="xa"),
        "inventory.rates_report (whole report)": lambda: inventory.rates_report(
            catalog, END, load_schedule(), [level for level, _ in LEVELS]),
        "inventory.backlog (100 oldest)": lambda: inventory.backlog(catalog, END),
        "inventory.orphan_list (100, the report's)": lambda: inventory.orphan_list(catalog, END),
        "inventory.orphans (100 + count, direct)": lambda: inventory.orphans(catalog, END),
        "inventory.intake_offices": lambda: inventory.intake_offices(catalog, END),
        "inventory.offices": lambda: inventory.offices(catalog),
    })
    return named


# Covering indexes tried for the rates queries; they helped the first result_cells, not later ones (bench/archive.md).
PROPOSED_INDEXES = {
    "documents_code_digitized": "documents (document_code, status, signed_at, archived_at)",
    "inventory_in_force": "inventory (resolved_date, valid_until, level, office_code, dossier_code, result_no)",
    "documents_results": "documents (kind, status, archived_at, document_code, dossier_code, number, level, "
                         "office_code, signed_at)",
}


def set_proposed_indexes(catalog: Catalog, wanted: bool) -> None:
    with catalog.transaction("bench indexes"):
        for name, target in PROPOSED_INDEXES.items():
            catalog.execute(f"CREATE INDEX IF NOT EXISTS {name} ON {target}" if wanted else f"DROP INDEX IF EXISTS {name}")
        catalog.execute("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("var/bench/catalog-1m.sqlite"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--proposed-indexes", action="store_true", help="time with PROPOSED_INDEXES added")
    args = parser.parse_args()
    if args.db.exists():
        with Catalog.open(args.db) as catalog:
            have = catalog.query("SELECT COUNT(*) FROM documents")[0][0]
        if have != args.documents:
            sys.exit(f"{args.db} holds {have:,} documents, not {args.documents:,}; delete it or pass --db")
    else:
        build(args.db, args.documents)
    with Catalog.open(args.db) as catalog:
        set_proposed_indexes(catalog, args.proposed_indexes)
        print("schema: shipped" + (" + proposed indexes" if args.proposed_indexes else ""))
        counts = {t: catalog.query(f"SELECT COUNT(*) FROM {t}")[0][0] for t in ("documents", "inventory", "offices")}
        print(", ".join(f"{n:,} {t}" for t, n in counts.items()))
        worst = 0.0
        for name, run in queries(catalog).items():
            times = []
            for _ in range(1 + args.repeat):
                t0 = time.perf_counter()
                run()
                times.append(time.perf_counter() - t0)
            worst = max(worst, times[0])
            print(f"{name:<42} cold {times[0]:6.2f} s   warm {min(times[1:]):6.2f} s")
        print(f"slowest cold query: {worst:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
