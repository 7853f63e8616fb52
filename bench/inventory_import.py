"""Benchmark: ``digitize inventory import`` of a large CSV into a fresh SQLite catalog.

    .venv/bin/python bench/inventory_import.py [--rows 1000000] [--folder var/bench/import] [--repeat 3]

Writes an office CSV (200 offices) and an inventory CSV of --rows results once,
then, --repeat times, imports both into a new catalog (what the command does,
without the settings), imports the same file again (nothing changes), and
imports a corrected export with 10 % of the rows changed (dates and offices).
Since schema version 2 every written row also updates ``result_months``
through triggers.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rates.inventory import import_inventory, import_offices  # noqa: E402
from storage.catalog import Catalog  # noqa: E402

LEVELS = ("tinh", "huyen", "xa")
HEADER = "dossier_code,procedure_code,office_code,level,received_date,resolved_date,result_no,valid_until\n"


def offices() -> list[tuple[str, str]]:
    return [("ttpvhcc", "tinh"), *((f"huyen-{i:02d}", "huyen") for i in range(11)),
            *((f"xa-{i:03d}", "xa") for i in range(188))]


def write_files(folder: Path, rows: int) -> tuple[Path, Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "offices.csv", folder / f"inventory-{rows}.csv", folder / f"corrected-{rows}.csv"
    if all(p.exists() for p in paths):
        return paths
    paths[0].write_text("code,name,level,area_type,status,merged_into\n"
                        + "".join(f"{code},Office {code},{level},rural,active,\n" for code, level in offices()),
                        encoding="utf-8")
    rng = random.Random(4521)
    registry = offices()
    lines, corrected = [], []
    for i in range(rows):
        line = _line(rng, registry, i)
        lines.append(line)
        corrected.append(_line(rng, registry, i) if rng.random() < 0.1 else line)
    paths[1].write_text(HEADER + "".join(lines), encoding="utf-8")
    paths[2].write_text(HEADER + "".join(corrected), encoding="utf-8")
    return paths


def _line(rng: random.Random, registry: list[tuple[str, str]], i: int) -> str:
    code, level = registry[rng.randrange(len(registry))]
    resolved = date(2022, 1, 1) + timedelta(days=rng.randrange(1792))
    valid = "" if rng.random() < 0.6 else (resolved + timedelta(days=rng.choice((182, 365, 1095)))).isoformat()
    received = resolved - timedelta(days=rng.randrange(30))
    return f"D{i:08d},1.001193,{code},{level},{received},{resolved},1,{valid}\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--folder", type=Path, default=Path("var/bench/import"))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    office_csv, inventory_csv, corrected_csv = write_files(args.folder, args.rows)
    db = args.folder / "catalog.sqlite"
    for run in range(args.repeat):
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
        with Catalog.open(db) as catalog:
            import_offices(catalog, office_csv, LEVELS)
            times = []
            for path in (inventory_csv, inventory_csv, corrected_csv):
                started = time.perf_counter()
                result = import_inventory(catalog, path, LEVELS)
                times.append(f"{time.perf_counter() - started:6.2f} s ({result.inserted} new, "
                             f"{result.updated} changed)")
        print(f"run {run + 1}: first import {times[0]}, same file again {times[1]}, corrected {times[2]}")


if __name__ == "__main__":
    main()
